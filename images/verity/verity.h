/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dm-verity hash trees in veritysetup's on-disk format 1 ("normal" hash type: H(salt ‖ block)):
 * superblock, building, full verification with one thread per core, and kernel activation. */
#pragma once

#include "error.h"
#include "progress.h"
#include "range.h"

#define VERITY_SUPERBLOCK_SIZE 512
#define VERITY_MAX_SALT_SIZE 256
#define VERITY_MAX_DIGEST_SIZE 64

typedef struct VerityParams {
        char algorithm[32];       /* "sha256" (also "sha1", "sha512": anything OpenSSL knows) */
        uint32_t data_block_size; /* power of two, 512 … 4096 (up to 65536 accepted on read) */
        uint32_t hash_block_size; /* power of two, 512 … 4096 */
        uint64_t data_blocks;
        uint16_t salt_size;
        uint8_t salt[VERITY_MAX_SALT_SIZE];
        uint8_t uuid[16];         /* superblock UUID, string byte order */
        uint32_t hash_type;       /* 1 = normal; 0 (Chrome OS) is refused */
} VerityParams;

/* Parses the 512-byte superblock at the start of a hash area. Anything out of range (magic,
 * version, hash type, block sizes, salt size, unknown algorithm) is -EBADMSG with a message
 * naming "what". */
int verity_superblock_parse(const uint8_t buf[static VERITY_SUPERBLOCK_SIZE], const char *what,
                            VerityParams *ret, GraftError *err);
void verity_superblock_format(const VerityParams *p, uint8_t buf[static VERITY_SUPERBLOCK_SIZE]);

/* Bytes the hash area takes: the superblock padded to a hash block (if with_superblock), then
 * the tree. 0 if the parameters are invalid (see verity_superblock_parse()). */
uint64_t verity_hash_area_size(const VerityParams *p, bool with_superblock);

/* Builds the hash tree of data (p->data_blocks blocks starting at data->offset) and writes the
 * superblock (if with_superblock) and the tree to hash->fd at hash->offset; hash->size must be at
 * least verity_hash_area_size(). Uses n_threads threads (0: one per CPU). Returns the root hash
 * in ret_root_hash (VERITY_MAX_DIGEST_SIZE bytes of room; NULL: not wanted). Parameters out of
 * range, or a data range smaller than p->data_blocks blocks, are -EINVAL with
 * GRAFT_ERROR_INVALID_ARGUMENT; a hash range too small for the tree is -ENOSPC. The output is
 * byte-identical to what `veritysetup format` writes for the same salt and UUID. */
typedef struct VerityBuild {
        const ImageRange *data;
        const ImageRange *hash;
        const VerityParams *params;
        bool with_superblock;
        unsigned n_threads;
        ProgressFn progress;
        void *progress_userdata;
} VerityBuild;
int verity_build(const VerityBuild *b, uint8_t *ret_root_hash, size_t *ret_root_hash_size,
                 GraftError *err);

/* Checks everything: the superblock, every data block against its leaf digest, every hash block
 * against its parent, the zero padding after the digests of every hash block (and after each
 * digest in its slot), and the root hash against expected_root_hash (if given). The first
 * mismatch in storage order (root hash, then hash blocks top level first, then data blocks) is
 * reported, whatever the thread count, as -EBADMSG with GRAFT_ERROR_INTEGRITY:
 *   "root hash of partition 1 is 5ab3…, expected 9c0d…"  (data->what)
 *   "hash block 7 (level 0) of partition 2 does not match the hash tree"
 *   "hash block 3 (level 1) of partition 2 has non-zero padding at byte 4000"
 *   "data block 1234 of partition 1 does not match the hash tree"
 * Hash blocks are numbered from the start of the hash area (the superblock's block is 0), so
 * number × hash block size is the offset in the range; level 0 holds the digests of the data
 * blocks, the byte is an offset within the block. A damaged superblock, a data range smaller
 * than the superblock's data_blocks, or a hash range smaller than the tree is -EBADMSG with
 * GRAFT_ERROR_BAD_IMAGE; so is a range that lies beyond the end of its file, checked before
 * any hashing: "partition 1 is truncated: it ends at byte X but the file has only Y".
 * Threads: as for build; progress counts bytes hashed, data and tree. */
typedef struct VerityVerify {
        const ImageRange *data;
        const ImageRange *hash;   /* starting with a superblock */
        const uint8_t *expected_root_hash; /* NULL: just compute it */
        size_t expected_root_hash_size;
        unsigned n_threads;
        ProgressFn progress;
        void *progress_userdata;
} VerityVerify;
typedef struct VerityResult {
        VerityParams params;
        uint8_t root_hash[VERITY_MAX_DIGEST_SIZE];
        size_t root_hash_size;
} VerityResult;
int verity_verify(const VerityVerify *v, VerityResult *ret, GraftError *err);

/* Whether this kernel can activate dm-verity devices. When it cannot, *ret_reason (static
 * string) says why, e.g. "the kernel has no device-mapper (/dev/mapper/control is missing)". */
bool verity_kernel_available(const char **ret_reason);

/* Activates a read-only dm-verity device through libcryptsetup, with a root hash that was
 * verified in userspace first (or whose signature was). The caller provides block devices (loop
 * devices over the partitions, see loop-mount.h). The device name is verity_device_name(): an
 * image that is already active is shared, not opened twice; a device of that name with another
 * root hash is -EEXIST. The signature is handed to the kernel when it checks signatures; if the
 * kernel refuses it (certificate not in its keyring) and does not require signatures, the device
 * is activated with the root hash alone. Returns -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
 * "dm-verity is not available: <reason>; the image was verified in userspace instead" when the
 * kernel cannot. */
typedef struct VerityActivation {
        const char *data_device;
        const char *hash_device;
        uint64_t hash_offset;     /* bytes, where the superblock is on hash_device */
        const uint8_t *root_hash;
        size_t root_hash_size;
        const uint8_t *signature; /* PKCS#7 for the kernel keyring check, or NULL */
        size_t signature_size;
} VerityActivation;
int verity_activate(const VerityActivation *a, char **ret_device_path, GraftError *err);

/* "graft-" + the root hash in lowercase hex, cut to device-mapper's 127 characters (sha512);
 * sharing compares the whole root hash. NULL on allocation failure. */
char *verity_device_name(const uint8_t *root_hash, size_t root_hash_size);

/* An active device held open: what image_mount() uses. */
typedef struct VerityDevice {
        char *name;              /* "graft-<root hash hex>" */
        char *node;              /* a node that is this device: /dev/mapper/NAME, else /dev/dm-N */
        int fd;                  /* holds the device (read-only) until verity_device_done() */
        bool shared;             /* it was active already: another mount of the same image */
        bool kernel_signature;   /* the kernel checked the root hash signature (dm-verity's
                                  * root_hash_sig_key_desc, against its trusted keyrings) */
        char *signature_note;    /* a signature was given but the kernel did not check it: why */
} VerityDevice;

/* Closes the fd. With the deferred removal verity_device_open() requested, the device goes away
 * here unless a mount (or anybody else) uses it by now. */
void verity_device_done(VerityDevice *d);

/* verity_activate(), then opens the device and asks for deferred removal, so that the device
 * goes away by itself with its last user: the caller mounts ret->node while ret->fd holds it, and
 * from then on the mount keeps it alive; unmounting the last mount frees it, then the loop
 * devices below it (autoclear). A caller that dies between the activation and the request for
 * deferred removal (two calls apart) leaves an active device nobody uses: verity_remove_unused()
 * sweeps those. A shared device that disappears between the lookup and the open (its last user
 * just went, or a sweep took it) is activated again. */
int verity_device_open(const VerityActivation *a, VerityDevice *ret, GraftError *err);

/* Removes the device now when nobody uses it, else as soon as its last user goes (deferred
 * removal). -ENODEV (GRAFT_ERROR_NO_SUCH_IMAGE) if no such device is active, -EOPNOTSUPP as above. */
int verity_release(const char *device_name, GraftError *err);

/* Removes the device now: -EBUSY while it is still in use (e.g. shared with another mount),
 * -ENODEV if no such device is active, -EOPNOTSUPP as above. */
int verity_deactivate(const char *device_name, GraftError *err);

/* Removes every active "graft-" device that nobody holds open (no mount, no fd): what a process
 * killed inside verity_device_open() leaves behind. A device another process activated a moment
 * ago and has not opened yet may go too; verity_device_open() then activates it again. Returns
 * how many were removed; 0 without device-mapper. */
int verity_remove_unused(GraftError *err);
