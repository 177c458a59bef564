/* The zero-fill manager's protocol (see zero.c), spoken on the endpoint its
 * parent gives it. Replies carry 0 or an NS_ERR_* code as their label.
 *
 *   ZERO_CREATE   capability 0: the bank to charge the object and its pages
 *                 to (WRITE right); word 0: length in bytes; word 1: pages
 *                 to enter at once from page 0 (zero pages, resident from
 *                 the start: a spawner fills them without waiting on the
 *                 manager). Reply: one capability, the client capability
 *                 (read, write, execute; no MANAGE); word 0: the object's
 *                 index (for ZERO_OBJECT_STATS). NS_ERR_INVALID_ARG without
 *                 a bank capability; any error the kernel gave.
 *   ZERO_STATS    reply words: 0 pages supplied for page requests so far,
 *                 1 live objects (objects whose bank was destroyed are
 *                 counted out first), 2 objects made so far, 3 pages entered
 *                 at creation (ZERO_CREATE word 1) so far.
 *   ZERO_OBJECT_STATS  word 0: an object's index. Reply word 0: pages
 *                 supplied for that object's requests. NS_ERR_INVALID_ARG
 *                 when no live object has that index. */
#ifndef NEWSYS_MANAGERS_ZERO_H
#define NEWSYS_MANAGERS_ZERO_H

#define ZERO_CREATE       1
#define ZERO_STATS        2
#define ZERO_OBJECT_STATS 3

/* Objects it can serve at once; their slots are reused once they die. */
#define ZERO_MAX_OBJECTS 1024
/* Free slots its capability space needs for that many (spawn option). */
#define ZERO_FREE_SLOTS (ZERO_MAX_OBJECTS + 64 + 16)

#endif
