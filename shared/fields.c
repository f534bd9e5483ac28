#include "fields.h"

#include <stdarg.h>
#include <stdio.h>

void fields_add(struct fields *f, const char *field, const char *fmt, ...)
{
    va_list ap;
    if (f->n >= FIELDS_MAX)
        return;
    snprintf(f->e[f->n].field, sizeof(f->e[f->n].field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(f->e[f->n].message, sizeof(f->e[f->n].message), fmt, ap);
    va_end(ap);
    f->n++;
}

json_t *fields_to_json(const struct fields *f)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < f->n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s}", "field", f->e[i].field, "message", f->e[i].message));
    return arr;
}
