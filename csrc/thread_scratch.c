/* Scratch memory per thread (thread_scratch.h). */
#include "thread_scratch.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    void *buffer[FASTNN_SCRATCH_SLOTS];
    size_t bytes[FASTNN_SCRATCH_SLOTS];
} scratch_slots;

static __thread scratch_slots slots;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_made;

static void free_slots(void *held)
{
    scratch_slots *s = held;
    for (int i = 0; i < FASTNN_SCRATCH_SLOTS; i++) {
        free(s->buffer[i]);
        s->buffer[i] = NULL;
        s->bytes[i] = 0;
    }
}

static void make_exit_key(void) { exit_key_made = pthread_key_create(&exit_key, free_slots) == 0; }

void *fastnn_thread_scratch(int slot, size_t bytes)
{
    if (bytes <= slots.bytes[slot])
        return slots.buffer[slot];
    pthread_once(&exit_key_once, make_exit_key);
    /* without the key the buffers would leak with the thread: allocate nothing then */
    if (!exit_key_made || pthread_setspecific(exit_key, &slots) != 0)
        return NULL;
    free(slots.buffer[slot]);
    bytes = (bytes + 63) & ~(size_t)63;
    slots.buffer[slot] = aligned_alloc(64, bytes);
    slots.bytes[slot] = slots.buffer[slot] ? bytes : 0;
    return slots.buffer[slot];
}
