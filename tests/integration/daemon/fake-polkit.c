/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in polkit authority for graftd's tests, on the test's private bus: answers
 * CheckAuthorization from its command line and logs every question.
 *   fake-polkit LOG [allow=ACTION | challenge=ACTION]...
 * allow: authorized; challenge: not authorized, but would be after authentication; anything
 * else: not authorized. Each question is logged as "ACTION subject=KIND:NAME interactive=0|1". */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

static int n_rules;
static char **rules;
static FILE *log_file;

static bool rule(const char *kind, const char *action) {
        size_t n = strlen(kind);
        for (int i = 0; i < n_rules; i++)
                if (strncmp(rules[i], kind, n) == 0 && rules[i][n] == '=' && strcmp(rules[i] + n + 1, action) == 0)
                        return true;
        return false;
}

static int read_subject(sd_bus_message *m, const char **kind, const char **name) {
        int r = sd_bus_message_enter_container(m, 'r', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_read(m, "s", kind);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && strcmp(key, "name") == 0)
                        r = sd_bus_message_read(m, "v", "s", name);
                else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r >= 0 ? sd_bus_message_exit_container(m) : r;
}

static int method_check(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *kind = "", *name = "", *action, *cancel;
        uint32_t flags;
        int r = read_subject(m, &kind, &name);
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &action);
        if (r >= 0)
                r = sd_bus_message_skip(m, "a{ss}");
        if (r >= 0)
                r = sd_bus_message_read(m, "us", &flags, &cancel);
        if (r < 0)
                return r;
        bool yes = rule("allow", action), challenge = !yes && rule("challenge", action);
        fprintf(log_file, "%s subject=%s:%s interactive=%u -> %s\n", action, kind, name, flags & 1,
                yes ? "yes" : challenge ? "challenge" : "no");
        fflush(log_file);
        return sd_bus_reply_method_return(m, "(bba{ss})", yes, challenge, 0);
}

static const sd_bus_vtable vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", method_check, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: fake-polkit LOG [allow=ACTION|challenge=ACTION]...\n");
                return 2;
        }
        log_file = fopen(argv[1], "a");
        if (!log_file)
                return 1;
        n_rules = argc - 2;
        rules = argv + 2;
        sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                             "org.freedesktop.PolicyKit1.Authority", vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.PolicyKit1", 0);
        if (r < 0) {
                fprintf(stderr, "fake-polkit: %s\n", strerror(-r));
                return 1;
        }
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 1;
                if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
                        return 1;
        }
}
