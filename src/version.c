/* version.c - the library's version string, set by CMake from project(VERSION). */
#include "slope/slope.h"

#ifndef SLOPE_VERSION_STRING
#define SLOPE_VERSION_STRING "unknown"
#endif

const char *sl_version(void)
{
    return SLOPE_VERSION_STRING;
}
