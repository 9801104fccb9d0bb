/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image inspect: what an image holds, read without privileges and without verifying
 * (verify does that). */
#include <string.h>

#include "fileio.h"
#include "graft-image.h"
#include "log.h"
#include "metadata.h"
#include "signature.h"
#include "strv.h"

typedef struct Inspection {
        DissectedImage *image;
        ImageMetadata meta;
        VeritySignature *signature; /* parsed, not verified */
        char *signature_error;      /* why the signature partition could not be parsed */
} Inspection;

static void inspection_done(Inspection *i) {
        dissected_image_free(i->image);
        image_metadata_done(&i->meta);
        verity_signature_free(i->signature);
        free(i->signature_error);
}

static void read_signature(Inspection *in) {
        const DissectedPartition *s = &in->image->signature;
        if (!s->found || s->range.size > VERITY_SIGNATURE_MAX_SIZE)
                return;
        _cleanup_free_ uint8_t *buf = malloc(s->range.size ?: 1);
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        if (!buf || pread_full(s->range.fd, buf, s->range.size, s->range.offset) < 0)
                return;
        if (verity_signature_parse(buf, s->range.size, s->range.what, &in->signature, &e) < 0)
                in->signature_error = e.message ? strdup(e.message) : NULL;
}

/* Which partitions dissect chose, for the "used" column. */
static const char *partition_role(const DissectedImage *d, unsigned partno) {
        if (d->data.found && d->data.partno == partno)
                return "data";
        if (d->verity.found && d->verity.partno == partno)
                return "verity";
        if (d->signature.found && d->signature.partno == partno)
                return "signature";
        return NULL;
}

static struct json_object *env_to_json(char * const *env) {
        struct json_object *o = json_object_new_object();
        STRV_FOREACH_PAIR(k, v, env)
                if (o && json_add_string(o, *k, *v) < 0)
                        return json_object_put(o), NULL;
        return o;
}

static struct json_object *partition_to_json(const DissectedImage *d, const GptPartition *p) {
        const DpsType *t = dps_type_from_uuid(&p->type);
        _cleanup_free_ char *name = NULL, *version = NULL;
        (void) label_split(p->label, &name, &version);
        struct json_object *o = json_object_new_object();
        const char *role = partition_role(d, p->partno);
        if (!o || json_add_uint64(o, "number", p->partno) < 0 ||
            json_add_string(o, "designator", t ? partition_designator_to_string(t->designator) : NULL) < 0 ||
            json_add_string(o, "architecture", t && t->arch >= 0 ? architecture_to_string(t->arch) : NULL) < 0 ||
            json_add_string(o, "type", UUID_TO_STRING(&p->type)) < 0 ||
            json_add_string(o, "uuid", UUID_TO_STRING(&p->uuid)) < 0 || json_add_string(o, "label", p->label) < 0 ||
            json_add_string(o, "version", version) < 0 || json_add_uint64(o, "offset", p->offset) < 0 ||
            json_add_uint64(o, "size", p->size) < 0 ||
            json_add_bool(o, "readOnly", p->attrs & GPT_FLAG_READ_ONLY) < 0 ||
            json_add_bool(o, "noAuto", p->attrs & GPT_FLAG_NO_AUTO) < 0 ||
            json_add_bool(o, "growFs", p->attrs & GPT_FLAG_GROWFS) < 0 || json_add_string(o, "use", role) < 0 ||
            json_add_bool(o, "verity", role && streq(role, "data") && d->verity.found) < 0 ||
            json_add_bool(o, "signed", role && streq(role, "data") && d->signature.found) < 0)
                return json_object_put(o), NULL;
        return o;
}

static int print_json(const Inspection *in) {
        const DissectedImage *d = in->image;
        _cleanup_json_ struct json_object *j = json_object_new_object();
        struct json_object *parts = json_object_new_array(), *units = json_object_new_array();
        if (!j || !parts || !units)
                return log_oom();
        json_add(j, "partitions", parts);
        json_add(j, "units", units);
        for (size_t i = 0; d->table && i < d->table->n_partitions; i++)
                if (json_object_array_add(parts, partition_to_json(d, &d->table->partitions[i])) < 0)
                        return log_oom();
        STRV_FOREACH(u, in->meta.units)
                json_object_array_add(units, json_object_new_string(*u));

        if (json_add_string(j, "image", d->path) < 0 || json_add_string(j, "kind", image_kind_to_string(d->kind)) < 0 ||
            json_add_string(j, "name", d->name) < 0 || json_add_string(j, "version", d->version) < 0 ||
            json_add_uint64(j, "size", d->size) < 0 ||
            json_add_string(j, "dataPartition", d->data.found ? d->data.range.what : NULL) < 0 ||
            json_add_string(j, "designator", d->data.found ? partition_designator_to_string(d->data.designator) : NULL) < 0 ||
            json_add_string(j, "architecture", d->data.found && d->data.arch >= 0 ? architecture_to_string(d->data.arch) : NULL) < 0 ||
            json_add_string(j, "fileSystem", fs_type_to_string(d->data.fstype)) < 0 ||
            json_add_bool(j, "verity", d->verity.found) < 0 ||
            json_add_bool(j, "signed", d->signature.found || d->sidecar_p7s) < 0 ||
            json_add_string(j, "rootHash", in->signature ? in->signature->root_hash_hex : d->sidecar_root_hash) < 0 ||
            json_add_string(j, "certificateFingerprint", in->signature ? in->signature->certificate_fingerprint_hex : NULL) < 0 ||
            json_add_string(j, "signatureError", in->signature_error) < 0 ||
            json_add_string(j, "osReleasePath", in->meta.os_release_path) < 0 ||
            json_add(j, "osRelease", in->meta.os_release ? env_to_json(in->meta.os_release) : NULL) < 0 ||
            json_add_string(j, "extensionReleasePath", in->meta.extension_release_path) < 0 ||
            json_add(j, "extensionRelease", in->meta.extension_release ? env_to_json(in->meta.extension_release) : NULL) < 0)
                return log_oom();
        json_print(j, arg_json, stdout);
        return 0;
}

static void print_partitions(const DissectedImage *d) {
        if (!d->table)
                return;
        if (arg_legend)
                printf("\n%-3s %-16s %-8s %-24s %-9s %-36s %8s %s\n", "#", "DESIGNATOR", "ARCH", "LABEL", "USE", "UUID",
                       "SIZE", "FLAGS");
        for (size_t i = 0; i < d->table->n_partitions; i++) {
                const GptPartition *p = &d->table->partitions[i];
                const DpsType *t = dps_type_from_uuid(&p->type);
                char size[16];
                printf("%-3u %-16s %-8s %-24s %-9s %-36s %8s %s%s%s\n", p->partno,
                       t ? partition_designator_to_string(t->designator) : "unknown",
                       t && t->arch >= 0 ? architecture_to_string(t->arch) : "-", isempty(p->label) ? "-" : p->label,
                       partition_role(d, p->partno) ?: "-", UUID_TO_STRING(&p->uuid), format_bytes(size, p->size),
                       p->attrs & GPT_FLAG_READ_ONLY ? "ro " : "", p->attrs & GPT_FLAG_NO_AUTO ? "no-auto " : "",
                       p->attrs & GPT_FLAG_GROWFS ? "growfs" : "");
        }
}

static void print_env(const char *title, const char *path, char * const *env) {
        if (!env) {
                printf("%s: none\n", title);
                return;
        }
        printf("%s (%s):\n", title, path);
        STRV_FOREACH_PAIR(k, v, env)
                printf("    %s=%s\n", *k, *v);
}

static void print_text(const Inspection *in) {
        const DissectedImage *d = in->image;
        char size[16];
        printf("       Image: %s\n", d->path);
        if (d->kind == IMAGE_KIND_DIRECTORY)
                printf("        Kind: directory\n");
        else
                printf("        Kind: %s, %s\n", image_kind_to_string(d->kind), format_bytes(size, d->size));
        printf("        Name: %s\n", strna(d->name));
        printf("     Version: %s\n", strna(d->version));
        if (d->kind != IMAGE_KIND_DIRECTORY)
                printf("        Data: %s (%s, %s, %s)\n", d->data.range.what,
                       partition_designator_to_string(d->data.designator),
                       d->data.arch >= 0 ? architecture_to_string(d->data.arch) : "any arch",
                       fs_type_to_string(d->data.fstype));
        printf("      Verity: %s\n", d->verity.found ? d->verity.range.what : "none");
        if (in->signature)
                printf("   Signature: %s, root hash %s, certificate %s (not verified: use verify)\n",
                       d->signature.range.what, in->signature->root_hash_hex,
                       strna(in->signature->certificate_fingerprint_hex));
        else if (in->signature_error)
                printf("   Signature: unreadable: %s\n", in->signature_error);
        else if (d->sidecar_p7s)
                printf("   Signature: .roothash.p7s file, root hash %s (not verified: use verify)\n",
                       strna(d->sidecar_root_hash));
        else
                printf("   Signature: none\n");
        print_partitions(d);
        printf("\n");
        print_env("os-release", in->meta.os_release_path, in->meta.os_release);
        print_env("extension-release", in->meta.extension_release_path, in->meta.extension_release);
        _cleanup_free_ char *units = strv_join(in->meta.units, " ");
        printf("Units: %s\n", isempty(units) ? "none" : units);
}

int verb_inspect(int argc, char **argv) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(inspection_done) Inspection in = {};
        _cleanup_(image_fs_freep) ImageFs *fs = NULL;

        int r = dissect_image(argv[1], &(DissectOptions) { .arch = arg_arch, .untrusted_ok = true }, &in.image, &e);
        if (r >= 0)
                r = image_fs_open(in.image, &fs, &e);
        if (r >= 0)
                r = image_metadata_read(fs, in.image->name, &in.meta, &e);
        if (r < 0)
                return exit_code_for(&e, r, "cannot inspect the image");
        read_signature(&in);

        if (arg_json)
                return print_json(&in) < 0 ? EXIT_FAILED : EXIT_OK;
        print_text(&in);
        return EXIT_OK;
}
