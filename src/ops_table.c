/*
 * ops_table.c - the op table: one row per sl_op_kind, in enum order.
 *
 * The rows live beside their ops (ops_*.c); this file only ties them to the
 * enum, both made from SL_OP_LIST (slope/ops.h).  A kind whose row is missing
 * fails to link; sl_op_def_of refuses a row whose kind field is not its
 * place, and tests/test_ops.c checks every row and runs every kind.
 */
#include "autograd.h"

#define SL_OP_DECLARE_ROW_(kind, name) extern const sl_op_def sl_op_##name##_row;
SL_OP_LIST(SL_OP_DECLARE_ROW_)
#undef SL_OP_DECLARE_ROW_

#define SL_OP_TABLE_ENTRY_(kind, name) [SL_OP_##kind] = &sl_op_##name##_row,
static const sl_op_def *const op_table[] = {SL_OP_LIST(SL_OP_TABLE_ENTRY_)};
#undef SL_OP_TABLE_ENTRY_

_Static_assert(sizeof op_table / sizeof op_table[0] == SL_OP_COUNT,
               "every sl_op_kind needs a row in op_table");

const sl_op_def *sl_op_def_of(int kind)
{
    if (kind < 0 || kind >= SL_OP_COUNT)
        return NULL;
    const sl_op_def *row = op_table[kind];
    return row && (int)row->kind == kind ? row : NULL;
}

const char *sl_op_name(sl_op_kind kind)
{
    const sl_op_def *row = sl_op_def_of(kind);
    return row ? row->name : "?";
}
