/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "progress.h"
#include "time-util.h"

struct Progress {
        char *label;
        pthread_mutex_t lock;
        uint64_t last_draw_usec;
        bool drawn;
};


Progress *progress_new(const char *label) {
        if (!isatty(STDERR_FILENO) || getenv("GRAFT_NO_PROGRESS"))
                return NULL;
        Progress *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->label = strdup(label);
        pthread_mutex_init(&p->lock, NULL);
        return p;
}

Progress *progress_free(Progress *p) {
        if (!p)
                return NULL;
        if (p->drawn)
                fputs("\r\x1B[K", stderr);
        pthread_mutex_destroy(&p->lock);
        free(p->label);
        free(p);
        return NULL;
}

void progress_report(void *userdata, uint64_t done, uint64_t total) {
        Progress *p = userdata;
        if (!p || total == 0)
                return;
        /* Whoever holds the lock is drawing right now; a skipped update is harmless. */
        if (pthread_mutex_trylock(&p->lock) != 0)
                return;

        uint64_t t = now_usec();
        if (t - p->last_draw_usec >= 100000 || done >= total) {
                const unsigned width = 30;
                unsigned percent = (unsigned) (MIN(done, total) * 100 / total);
                unsigned filled = percent * width / 100;
                char bar[64];
                memset(bar, '#', filled);
                memset(bar + filled, '.', width - filled);
                bar[width] = 0;
                fprintf(stderr, "\r%s [%s] %3u%%", p->label, bar, percent);
                fflush(stderr);
                p->last_draw_usec = t;
                p->drawn = true;
        }
        pthread_mutex_unlock(&p->lock);
}
