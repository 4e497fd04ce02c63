/*
 * Shared by the files of src/config/ only: the helpers that the values
 * (settings.c), the command line (args.c), --help and --print-config
 * (help.c) and the table (table.c) have in common. Defined in settings.c
 * unless said otherwise.
 */
#ifndef CU_CONFIG_INTERNAL_H
#define CU_CONFIG_INTERNAL_H

#include "config/settings.h"

#define OFF(field) offsetof(struct cu_config, field)

/* The field of struct cu_config that s stands for. */
static inline void *cu_cfg_field(struct cu_config *c, const struct cu_setting *s)
{
    return (char *)c + s->offset;
}

static inline const void *cu_cfg_cfield(const struct cu_config *c,
                                        const struct cu_setting *s)
{
    return (const char *)c + s->offset;
}

/* -h/--help and -v/--version: options, but not settings (args.c). */
extern const char *const cu_cfg_help_flags[];
extern const char *const cu_cfg_version_flags[];

/* Appends to the message already in err (truncating). */
__attribute__((format(printf, 3, 4)))
void cu_cfg_errcat(char *err, size_t errlen, const char *fmt, ...);

/* Appends a copy of s[0..len), keeping l->v NULL-terminated. 0 or -1
 * (ENOMEM). */
int cu_cfg_strv_push(struct cu_strv *l, const char *s, size_t len);
void cu_cfg_strv_clear(struct cu_strv *l);

/* *dst becomes a copy of s[0..len); the old string is freed. 0, or -1
 * (ENOMEM) with *dst unchanged. */
int cu_cfg_replace_str(char **dst, const char *s, size_t len);

#endif
