/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What graftd sends and the CLIs read back (common/bus-util.h, sysext/sysext-wire.h,
 * portable/portable-wire.h): every field survives the trip over a real sd-bus connection (a
 * socket pair), NULL strings and empty lists included; error records keep their name and message;
 * a bare errno comes back as the errno; the bus's refusals keep their names. */
#include <sys/socket.h>
#include <sys/stat.h>

#include "bus-util.h"
#include "portable-wire.h"
#include "strv.h"
#include "sysext-wire.h"
#include "tests.h"

static sd_bus *client, *server;

static void pair(void) {
        int fds[2];
        sd_id128_t id;
        ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        ASSERT_OK(sd_id128_randomize(&id));
        ASSERT_OK(sd_bus_new(&server));
        ASSERT_OK(sd_bus_set_fd(server, fds[0], fds[0]));
        ASSERT_OK(sd_bus_set_server(server, 1, id));
        ASSERT_OK(sd_bus_start(server));
        ASSERT_OK(sd_bus_new(&client));
        ASSERT_OK(sd_bus_set_fd(client, fds[1], fds[1]));
        ASSERT_OK(sd_bus_start(client));
}

static sd_bus_message *new_message(void) {
        sd_bus_message *m = NULL;
        if (!client) /* whichever test runs first */
                pair();
        ASSERT_OK(sd_bus_message_new_signal(client, &m, "/t", "org.graft.Test", "Wire"));
        return m;
}

/* Sends m from the client and returns it as the server received it. */
static sd_bus_message *trip(sd_bus_message *m) {
        ASSERT_OK(sd_bus_send(client, m, NULL));
        sd_bus_message_unref(m);
        for (int i = 0; i < 1000; i++) {
                sd_bus_message *got = NULL;
                (void) sd_bus_process(client, NULL);
                int r = sd_bus_process(server, &got);
                ASSERT_TRUE(r >= 0);
                if (got && sd_bus_message_is_signal(got, "org.graft.Test", "Wire"))
                        return got;
                sd_bus_message_unref(got);
                if (r == 0)
                        (void) sd_bus_wait(server, 10000);
        }
        ASSERT_TRUE(!"the message did not arrive");
        return NULL;
}

TEST(errors) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT, back = GRAFT_ERROR_INIT;
        graft_error_set(&e, -EBADMSG, GRAFT_ERROR_INTEGRITY, "foo.raw: data block 7 does not match");
        _cleanup_bus_error_ sd_bus_error be = SD_BUS_ERROR_NULL;
        ASSERT_ERRNO(bus_error_from_graft(&be, &e, -EBADMSG), -EBADMSG);
        ASSERT_STREQ(be.name, GRAFT_ERROR_INTEGRITY);
        ASSERT_ERRNO(graft_error_from_bus(&be, -EIO, &back), -EBADMSG);
        ASSERT_STREQ(back.name, GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(back.message, "foo.raw: data block 7 does not match");
        ASSERT_EQ(graft_error_exit_code(&back, -EBADMSG), EXIT_INTEGRITY);

        /* No record: the bare errno goes and comes back, without a record. */
        _cleanup_bus_error_ sd_bus_error bare = SD_BUS_ERROR_NULL;
        bus_error_from_graft(&bare, NULL, -ENOENT);
        ASSERT_STREQ(bare.name, "System.Error.ENOENT");
        GraftError none = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(graft_error_from_bus(&bare, -EIO, &none), -ENOENT);
        ASSERT_FALSE(graft_error_is_set(&none));

        /* Refusals keep their name; anything else names graftd. */
        _cleanup_graft_error_ GraftError denied = GRAFT_ERROR_INIT, other = GRAFT_ERROR_INIT;
        const sd_bus_error ad = SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_ACCESS_DENIED, "access denied: AttachImage foo");
        ASSERT_ERRNO(graft_error_from_bus(&ad, -EACCES, &denied), -EACCES);
        ASSERT_STREQ(denied.name, SD_BUS_ERROR_ACCESS_DENIED);
        ASSERT_EQ(graft_error_exit_code(&denied, -EACCES), EXIT_FAILED);
        const sd_bus_error nr = SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_NO_REPLY, "Connection terminated");
        ASSERT_ERRNO(graft_error_from_bus(&nr, -ETIMEDOUT, &other), -ETIMEDOUT);
        ASSERT_MESSAGE_CONTAINS(&other, "graftd: Connection terminated (org.freedesktop.DBus.Error.NoReply)");
}

TEST(sysext_result) {
        SysextPlan *p = calloc(1, sizeof(*p));
        p->images = calloc(3, sizeof(SysextImage));
        p->n_images = 2;
        p->images[0] = (SysextImage) { .name = strdup("a"), .path = strdup("/x/a.raw"), .found_as = strdup("/x/a.raw"),
                                       .type = S_IFREG, .root_hash = strdup("ab"), .signer = strdup("CN=k"),
                                       .offer = OFFER_SIGNED, .mounted_via = strdup("loop device /dev/loop1"),
                                       .content = strv_split("/usr /opt", " ") };
        p->images[1] = (SysextImage) { .name = strdup("b"), .version = strdup("2"), .path = strdup("/x/b"),
                                       .type = S_IFDIR, .skipped = true };
        graft_error_set(&p->images[1].error, -EBADR, GRAFT_ERROR_INCOMPATIBLE, "b: ID=fedora");
        p->discovery_skipped = strv_split("/x/.bad:hidden", " ");
        SysextResult res = { .plan = p, .n_hierarchies = 1, .reload = SYSEXT_RELOAD_FAILED,
                             .reload_error = strdup("no bus"), .beneath_unsupported = true };
        res.hierarchies = calloc(2, sizeof(SysextHierarchyResult));
        res.hierarchies[0] = (SysextHierarchyResult) { .path = strdup("/usr"), .resolved = strdup("/r/usr"),
                                                       .action = SYSEXT_ACTION_SWAPPED, .gap_usec = 42,
                                                       .extensions = strv_split("a", " ") };
        sd_bus_message *m = new_message();
        ASSERT_OK(sysext_result_append(m, &res));
        sd_bus_message *got = trip(m);
        ASSERT_STREQ(sd_bus_message_get_signature(got, true), SYSEXT_BUS_RESULT_SIGNATURE);
        SysextResult back = {};
        ASSERT_OK(sysext_result_read(got, IMAGE_CLASS_CONFEXT, &back));
        ASSERT_EQ(back.plan->n_images, 2u);
        const SysextImage *a = &back.plan->images[0], *b = &back.plan->images[1];
        ASSERT_STREQ(a->name, "a");
        ASSERT_TRUE(a->version == NULL && a->type == S_IFREG && a->offer == OFFER_SIGNED && !a->skipped);
        ASSERT_STREQ(a->signer, "CN=k");
        ASSERT_STREQ(a->mounted_via, "loop device /dev/loop1");
        ASSERT_TRUE(strv_length(a->content) == 2 && streq(a->content[1], "/opt"));
        ASSERT_TRUE(b->skipped && b->type == S_IFDIR && b->content == NULL);
        ASSERT_STREQ(b->error.name, GRAFT_ERROR_INCOMPATIBLE);
        ASSERT_STREQ(b->error.message, "b: ID=fedora");
        ASSERT_STREQ(back.plan->discovery_skipped[0], "/x/.bad:hidden");
        ASSERT_EQ(sysext_plan_n_skipped(back.plan), 2u);
        ASSERT_TRUE(back.plan->class == IMAGE_CLASS_CONFEXT && streq(back.plan->hierarchies[0], "/usr"));
        ASSERT_EQ(back.n_hierarchies, 1u);
        ASSERT_TRUE(back.hierarchies[0].action == SYSEXT_ACTION_SWAPPED && back.hierarchies[0].gap_usec == 42);
        ASSERT_STREQ(back.hierarchies[0].resolved, "/r/usr");
        ASSERT_TRUE(back.reload == SYSEXT_RELOAD_FAILED && back.beneath_unsupported);
        ASSERT_STREQ(back.reload_error, "no bus");
        sysext_result_done(&back);
        sd_bus_message_unref(got);

        /* Unmerge has no plan, and that is kept. */
        SysextResult empty = { .reload = SYSEXT_RELOAD_NOT_ASKED };
        m = new_message();
        ASSERT_OK(sysext_result_append(m, &empty));
        got = trip(m);
        ASSERT_OK(sysext_result_read(got, IMAGE_CLASS_SYSEXT, &back));
        ASSERT_TRUE(back.plan == NULL && back.n_hierarchies == 0 && back.reload_error == NULL);
        sysext_result_done(&back);
        sysext_result_done(&res);
        sd_bus_message_unref(got);
}

TEST(sysext_status_and_listing) {
        SysextStatus s = { .n_hierarchies = 1, .hierarchies = calloc(2, sizeof(SysextHierarchy)) };
        s.hierarchies[0] = (SysextHierarchy) { .path = strdup("/usr"), .merged = true, .since_usec = 7,
                                               .extensions = strv_split("a b", " ") };
        sd_bus_message *m = new_message();
        ASSERT_OK(sysext_status_append(m, &s));
        sd_bus_message *got = trip(m);
        SysextStatus back = {};
        ASSERT_OK(sysext_status_read(got, &back));
        ASSERT_TRUE(back.n_hierarchies == 1 && back.hierarchies[0].merged && back.hierarchies[0].since_usec == 7);
        ASSERT_TRUE(back.hierarchies[0].resolved == NULL && strv_length(back.hierarchies[0].extensions) == 2);
        sysext_status_done(&back);
        sysext_status_done(&s);
        sd_bus_message_unref(got);

        SysextListing l = { .discovery = { .n_images = 1, .images = calloc(1, sizeof(DiscoveredImage)) },
                            .mtime_usec = calloc(1, sizeof(uint64_t)) };
        l.discovery.images[0] = (DiscoveredImage) { .name = strdup("a"), .path = strdup("/r/a.raw"),
                                                    .found_as = strdup("/var/lib/extensions/a.raw"), .type = S_IFBLK };
        l.mtime_usec[0] = 1234567;
        m = new_message();
        ASSERT_OK(sysext_listing_append(m, &l));
        got = trip(m);
        SysextListing lb = {};
        ASSERT_OK(sysext_listing_read(got, &lb));
        ASSERT_TRUE(lb.discovery.n_images == 1 && lb.discovery.images[0].type == S_IFBLK && lb.mtime_usec[0] == 1234567);
        ASSERT_STREQ(lb.discovery.images[0].found_as, "/var/lib/extensions/a.raw");
        ASSERT_TRUE(lb.discovery.images[0].version == NULL && lb.discovery.skipped == NULL);
        sysext_listing_done(&lb);
        sysext_listing_done(&l);
        sd_bus_message_unref(got);
}

TEST(portable) {
        PortableResult r = { .image = strdup("/v/a.raw"), .units = strv_split("a.service a.socket", " "),
                             .started = strv_split("a.service", " "), .reloaded = true };
        portable_changes_add(&r.changes, PORTABLE_CHANGE_SYMLINK, "/etc/x", "/usr/y");
        portable_changes_add(&r.changes, PORTABLE_CHANGE_MKDIR, "/etc", NULL);
        sd_bus_message *m = new_message();
        ASSERT_OK(portable_result_append(m, &r));
        sd_bus_message *got = trip(m);
        ASSERT_STREQ(sd_bus_message_get_signature(got, true), PORTABLE_BUS_RESULT_SIGNATURE);
        PortableResult back = {};
        ASSERT_OK(portable_result_read(got, &back));
        ASSERT_STREQ(back.image, "/v/a.raw");
        ASSERT_TRUE(back.changes.n == 2 && back.changes.items[0].type == PORTABLE_CHANGE_SYMLINK);
        ASSERT_STREQ(back.changes.items[0].source, "/usr/y");
        ASSERT_TRUE(back.changes.items[1].source == NULL && back.stopped == NULL && back.reloaded);
        ASSERT_EQ(strv_length(back.started), 1u);
        portable_result_done(&back);
        portable_result_done(&r);
        sd_bus_message_unref(got);

        PortableImageInfo info = { .name = strdup("a"), .path = strdup("/v/a.raw"), .state = PORTABLE_RUNNING_RUNTIME };
        m = new_message();
        ASSERT_OK(portable_image_infos_append(m, &info, 1));
        got = trip(m);
        PortableImageInfo *l = NULL;
        size_t n = 0;
        ASSERT_OK(portable_image_infos_read(got, &l, &n));
        ASSERT_TRUE(n == 1 && l[0].state == PORTABLE_RUNNING_RUNTIME && l[0].units == NULL && l[0].version == NULL);
        portable_image_infos_free(l, n);
        free(info.name);
        free(info.path);
        sd_bus_message_unref(got);

        PortableInspection in = { .image = strdup("/v/a.raw"), .name = strdup("a"), .kind = "directory",
                                  .os_release = strv_split("ID debian VERSION_ID 12", " "), .state = PORTABLE_ENABLED,
                                  .n_units = 1, .units = calloc(2, sizeof(PortableInspectUnit)) };
        in.units[0] = (PortableInspectUnit) { .name = strdup("a.service"), .source = strdup("/v/a.raw/usr/lib/a.service"),
                                              .content = strdup("") };
        in.os_release_text = strdup("ID=debian\nVERSION_ID=12\n");
        in.n_extension_releases = 1;
        in.extension_releases = calloc(2, sizeof(PortableInspectUnit));
        in.extension_releases[0] = (PortableInspectUnit) { .name = strdup("/v/e.raw"),
                                                           .source = strdup("/usr/lib/extension-release.d/extension-release.e"),
                                                           .content = strdup("ID=debian\n") };
        m = new_message();
        ASSERT_OK(portable_inspection_append(m, &in));
        got = trip(m);
        ASSERT_STREQ(sd_bus_message_get_signature(got, true), PORTABLE_BUS_INSPECTION_SIGNATURE);
        PortableInspection ib = {};
        ASSERT_OK(portable_inspection_read(got, &ib));
        ASSERT_TRUE(ib.kind == image_kind_to_string(IMAGE_KIND_DIRECTORY) && ib.state == PORTABLE_ENABLED);
        ASSERT_STREQ(strv_env_get(ib.os_release, "VERSION_ID"), "12");
        ASSERT_TRUE(ib.n_units == 1 && ib.units[0].content && ib.units[0].content[0] == '\0');
        ASSERT_STREQ(ib.os_release_text, "ID=debian\nVERSION_ID=12\n");
        ASSERT_TRUE(ib.n_extension_releases == 1);
        ASSERT_STREQ(ib.extension_releases[0].name, "/v/e.raw");
        ASSERT_STREQ(ib.extension_releases[0].source, "/usr/lib/extension-release.d/extension-release.e");
        ASSERT_STREQ(ib.extension_releases[0].content, "ID=debian\n");
        portable_inspection_done(&ib);
        portable_inspection_done(&in);
        sd_bus_message_unref(got);

        /* A state name that is not one is refused, not guessed. */
        ASSERT_EQ(portable_state_from_string("sleeping"), _PORTABLE_STATE_MAX);
        PortableOptions o = {};
        ASSERT_ERRNO(portable_options_from_bus_flags(1u << 20, &o), -EINVAL);
        ASSERT_OK(portable_options_from_bus_flags(PORTABLE_BUS_NOW | PORTABLE_BUS_FORCE, &o));
        ASSERT_TRUE(o.now && o.force && !o.runtime);
        ASSERT_EQ(portable_options_to_bus_flags(&o), (uint64_t) (PORTABLE_BUS_NOW | PORTABLE_BUS_FORCE));
}

int main(int argc, char **argv) {
        int r = tests_run(argc, argv);
        sd_bus_flush_close_unref(client);
        sd_bus_flush_close_unref(server);
        return r;
}
