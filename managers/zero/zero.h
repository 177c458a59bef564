/* The zero-fill manager's protocol (see zero.c). The reply's label is 0 or
 * an NS_ERR_* code. */
#ifndef NEWSYS_MANAGERS_ZERO_H
#define NEWSYS_MANAGERS_ZERO_H

#define ZERO_CREATE 1 /* word 0: length in bytes -> one capability, word 0: index */
#define ZERO_STATS  2 /* -> word 0: pages supplied, word 1: objects */

#endif
