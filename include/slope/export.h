/* slope/export.h - symbol visibility.  Only SL_API functions leave libslope.so. */
#ifndef SLOPE_EXPORT_H
#define SLOPE_EXPORT_H

#if defined(SLOPE_STATIC) || !defined(__GNUC__)
#define SL_API
#else
#define SL_API __attribute__((visibility("default")))
#endif

#endif
