/* Kernel command line parsing. Words are separated by spaces or tabs; there
 * is no quoting (nothing NewSys takes needs spaces). */
#include "kernel/lib/cmdline.h"

#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

/* Find the next word: returns its start, sets *len; NULL at the end. */
static const char *next_word(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s && is_space(*s))
        s++;
    if (!*s)
        return NULL;
    const char *w = s;
    while (*s && !is_space(*s))
        s++;
    *len = (size_t)(s - w);
    *p = s;
    return w;
}

bool cmdline_get(const char *args, const char *key, char *out, size_t out_len)
{
    size_t klen = strlen(key), len;
    const char *w, *found = NULL;
    size_t found_len = 0;
    if (!args)
        return false;
    while ((w = next_word(&args, &len)) != NULL) {
        if (len > klen && w[klen] == '=' && !strncmp(w, key, klen)) {
            found = w + klen + 1;
            found_len = len - klen - 1;
        }
    }
    if (!found || !out_len || found_len >= out_len)
        return false;
    memcpy(out, found, found_len);
    out[found_len] = '\0';
    return true;
}

bool cmdline_has(const char *args, const char *flag)
{
    size_t flen = strlen(flag), len;
    const char *w;
    if (!args)
        return false;
    while ((w = next_word(&args, &len)) != NULL)
        if (len >= flen && !strncmp(w, flag, flen) && (len == flen || w[flen] == '='))
            return true;
    return false;
}
