/*
 * keys: every Redis key, stream and channel name, in one place.
 *
 * Streams are partitioned by group: a group's events all go to partition
 * keys_partition(group_id, P), so one owner applies them in acceptance order.
 *
 *   splitter:stream:<p>        ledger events of partition p (consumer group "workers")
 *   splitter:dead              dead-letter stream
 *   splitter:event:<id>        hash: a queued event's status (deleted once recorded;
 *                            kept a minute with the outcome when a request waits)
 *   splitter:events:done       pub/sub: ids of events that reached a final status,
 *                            space-separated, one message per applied batch
 *   splitter:session:<sha256>  user id behind a bearer token (sliding expiry)
 *   splitter:idem:<uid>:<sha256> the first answer to an Idempotency-Key
 *   splitter:idem_horizon      since when (ms) the idem records are complete
 *   splitter:view:<gid>        hash: the group's cached view at one version
 *   splitter:loginfail:<sha256> failed logins of one account (slowdown window)
 *   splitter:lease:<p>         partition lease: "<worker>:<token>"
 *   splitter:lease_token:<p>   fencing counter of partition p
 *   splitter:workers           sorted set: live workers by last heartbeat (ms)
 *   splitter:sentinel          set by the workers once Redis holds their state; its absence
 *                            while PostgreSQL holds applied entries means Redis lost its data
 *   splitter:idem_horizon      Unix ms since which Redis's idempotency records are complete
 *   splitter:replication:fence the api's write that a replica acknowledgement (WAIT) waits on
 */
#ifndef SPLITTER_KEYS_H
#define SPLITTER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_PREFIX "splitter:"
#define KEYS_CONSUMER_GROUP "workers"
#define KEYS_DEAD_STREAM "splitter:dead"
#define KEYS_DONE_CHANNEL "splitter:events:done"
/* A finished event a request waits on keeps its outcome (the resource, or the
   problem) in its status hash this long, for that request; others are
   deleted at once. */
#define KEYS_EVENT_RESULT_TTL_S 60
/* A queued event's status hash lives this long unless the worker records
   the event first (it is then deleted). */
#define KEYS_EVENT_STATUS_TTL_S 604800
#define KEYS_STR_(x) #x
#define KEYS_STR(x) KEYS_STR_(x) /* a number's decimal text, for command arguments */
#define KEYS_WORKERS "splitter:workers"
#define KEYS_SENTINEL "splitter:sentinel"
#define KEYS_SESSION_TTL_S 2592000 /* 30 days, sliding */
#define KEYS_IDEM_TTL_S 86400      /* Idempotency-Key window */
#define KEYS_IDEM_WINDOW_SQL "interval '" KEYS_STR(KEYS_IDEM_TTL_S) " seconds'" /* as SQL */
/* Unix time in ms since which Redis holds every idempotency record; set (NX)
   by the api when missing, after asking the ledger (docs/ARCHITECTURE.md,
   "Idempotency keys"). Missing or younger than KEYS_IDEM_TTL_S: a key Redis
   does not know is looked up in PostgreSQL. */
#define KEYS_IDEM_HORIZON KEYS_PREFIX "idem_horizon"

/* INCR'd by the api before a WAIT for replicas (REDIS_WAIT_REPLICAS). */
#define KEYS_REPLICATION_FENCE KEYS_PREFIX "replication:fence"
/* SCAN pattern of every cached view. */
#define KEYS_VIEW_PATTERN KEYS_PREFIX "view:*"

/* Partition of a group id string: FNV-1a of its bytes, mod partitions. */
unsigned keys_partition(const char *group_id, unsigned partitions);

/* Format "splitter:<kind>:<id>" into buf. Returns buf. */
char *keys_fmt(char *buf, size_t size, const char *kind, const char *id);

/* "splitter:idem:<user id>:<SHA-256 hex of the key>" into buf (>= 140 bytes):
   the record of a user's Idempotency-Key, {"hash", "event_id", "target_id"}
   (the request's hash, the event holding the key and its expense or payment).
   Returns buf. */
char *keys_idem(char *buf, size_t size, const char *user_id, const char *key_sha256);

/* "splitter:stream:<p>" into buf. Returns buf. */
char *keys_stream(char *buf, size_t size, unsigned partition);
/* The partition p of a stream name "splitter:stream:<p>": 0, or -1 when name
   is not a partition stream's. */
int keys_stream_partition(const char *name, unsigned *p);
/* "splitter:lease:<p>" into buf. Returns buf. */
char *keys_lease(char *buf, size_t size, unsigned partition);
/* "splitter:lease_token:<p>" into buf. Returns buf. */
char *keys_lease_token(char *buf, size_t size, unsigned partition);

#endif
