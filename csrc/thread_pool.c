/* Worker threads taking units from a shared counter (thread_pool.h). */
#include "thread_pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

/* More helpers than this are never started, whatever the thread count asked for. */
#define MAX_HELPERS 255
/* A helper that finds no work watches for more this long before it sleeps: long enough to catch
 * the next product of a training step (waking a sleeping thread costs tens of microseconds on a
 * VM), short enough not to hold a core another process wants. */
#define IDLE_WATCH_NS 50000LL
/* The calling thread asks the interrupt check at most this often. */
#define INTERRUPT_CHECK_NS 20000000LL

typedef struct {
    fastnn_unit_fn unit;
    void *context;
    ptrdiff_t units;
    atomic_ptrdiff_t next; /* the next unit to claim; >= units when all are claimed */
    atomic_int failed;
    int helpers_wanted; /* the pool's lock guards these two */
    int helpers_inside;
} job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work_posted;  /* helpers sleep on it */
    pthread_cond_t helpers_left; /* the caller sleeps on it until its job's helpers are out */
    job *current;                /* NULL when no job takes helpers */
    atomic_ulong generation;     /* counts posted jobs, so a helper joins each at most once */
    int helpers;                 /* started */
    atomic_int taken;            /* a caller holds the helpers */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

static atomic_llong units_by_callers, units_by_helpers;

static int (*interrupt_check)(void);
static unsigned long interrupt_thread;

void fastnn_set_interrupt_check(int (*check)(void), unsigned long only_thread)
{
    interrupt_thread = only_thread;
    interrupt_check = check;
}

void fastnn_unit_counts(long long *by_callers, long long *by_helpers)
{
    *by_callers = atomic_load(&units_by_callers);
    *by_helpers = atomic_load(&units_by_helpers);
}

/* Runs unit u, counted in `tally` as soon as it is done. */
static void run_unit(job *j, ptrdiff_t u, atomic_llong *tally)
{
    if (j->unit(j->context, u))
        atomic_store(&j->failed, 1);
    atomic_fetch_add_explicit(tally, 1, memory_order_relaxed);
}

/* Claims and runs units until none are left. */
static void run_claimed_units(job *j, atomic_llong *tally)
{
    ptrdiff_t u;
    while ((u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->units)
        run_unit(j, u, tally);
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Whether a job after `seen` is posted within IDLE_WATCH_NS. */
static int watch_for_work(unsigned long seen)
{
    long long until = now_ns() + IDLE_WATCH_NS;
    do {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&pool.generation, memory_order_relaxed) != seen)
                return 1;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    } while (now_ns() < until);
    return 0;
}

static void *helper_main(void *arg)
{
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        job *j = pool.current;
        if (j == NULL || seen == pool.generation || j->helpers_inside >= j->helpers_wanted) {
            /* nothing to join (or no room in the job): wait for a job posted after this one */
            seen = pool.generation;
            pthread_mutex_unlock(&pool.lock);
            int posted = watch_for_work(seen);
            pthread_mutex_lock(&pool.lock);
            if (!posted && seen == pool.generation)
                pthread_cond_wait(&pool.work_posted, &pool.lock);
            continue;
        }
        seen = pool.generation;
        j->helpers_inside++;
        pthread_mutex_unlock(&pool.lock);
        run_claimed_units(j, &units_by_helpers);
        pthread_mutex_lock(&pool.lock);
        /* the caller cannot return, and `j` stays valid, until this count reaches zero */
        if (--j->helpers_inside == 0)
            pthread_cond_signal(&pool.helpers_left);
    }
    return NULL;
}

/* A forked child has none of the parent's helpers: it starts its own when it needs them. */
static void forget_helpers_in_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.work_posted, NULL);
    pthread_cond_init(&pool.helpers_left, NULL);
    pool.current = NULL;
    pool.helpers = 0;
    atomic_store(&pool.taken, 0);
}

/* Starts helpers until there are `wanted` (or as many as could be started); with the lock held. */
static void start_helpers(int wanted)
{
    static int fork_handler_installed;
    if (!fork_handler_installed) {
        pthread_atfork(NULL, NULL, forget_helpers_in_child);
        fork_handler_installed = 1;
    }
    if (wanted > MAX_HELPERS)
        wanted = MAX_HELPERS;
    /* Helpers block every signal, so that signals go to the application's own threads. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    while (pool.helpers < wanted) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, helper_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed)
            break;
        pool.helpers++;
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/* The caller's share: like run_claimed_units, asking the interrupt check between units. */
static int run_units_as_caller(job *j, int interruptible)
{
    int (*check)(void) = interrupt_check;
    if (!interruptible || check == NULL || (unsigned long)pthread_self() != interrupt_thread) {
        run_claimed_units(j, &units_by_callers);
        return 0;
    }
    long long last_check = now_ns();
    ptrdiff_t u;
    int interrupted = 0;
    while ((u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->units) {
        run_unit(j, u, &units_by_callers);
        if (now_ns() - last_check >= INTERRUPT_CHECK_NS) {
            if (check()) {
                atomic_store(&j->next, j->units); /* helpers stop claiming */
                interrupted = 1;
                break;
            }
            last_check = now_ns();
        }
    }
    return interrupted;
}

int fastnn_run_units(int threads, ptrdiff_t units, fastnn_unit_fn unit, void *context,
                     int interruptible)
{
    job j = {.unit = unit, .context = context, .units = units};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    int helpers = threads - 1 < units - 1 ? threads - 1 : (int)(units - 1);
    int expected = 0;
    if (helpers > 0 && !atomic_compare_exchange_strong(&pool.taken, &expected, 1))
        helpers = 0; /* another thread's call has them: this one runs alone */
    if (helpers > 0) {
        pthread_mutex_lock(&pool.lock);
        if (pool.helpers < helpers)
            start_helpers(helpers);
        j.helpers_wanted = helpers;
        pool.current = &j;
        pool.generation++;
        pthread_cond_broadcast(&pool.work_posted);
        pthread_mutex_unlock(&pool.lock);
    }
    int interrupted = run_units_as_caller(&j, interruptible);
    if (helpers > 0) {
        pthread_mutex_lock(&pool.lock);
        pool.current = NULL; /* helpers not yet in never join */
        while (j.helpers_inside > 0)
            pthread_cond_wait(&pool.helpers_left, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
        atomic_store(&pool.taken, 0);
    }
    if (interrupted)
        return FASTNN_UNITS_INTERRUPTED;
    return atomic_load(&j.failed) ? FASTNN_UNITS_FAILED : 0;
}
