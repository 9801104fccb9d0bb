/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DPS table against `systemd-id128 show`, and the name tables. */
#include <string.h>

#include "dps.h"
#include "tests.h"

TEST(architecture_names) {
        for (Architecture a = 0; a < _ARCHITECTURE_MAX; a++) {
                const char *s = architecture_to_string(a);
                ASSERT_TRUE(s);
                ASSERT_EQ(architecture_from_string(s), a);
        }
        ASSERT_STREQ(architecture_to_string(ARCHITECTURE_X86_64), "x86-64");
        ASSERT_STREQ(architecture_to_string(ARCHITECTURE_PPC64_LE), "ppc64-le");
        ASSERT_STREQ(architecture_to_string(ARCHITECTURE_MIPS64_LE), "mips64-le");
        ASSERT_EQ(architecture_from_string("x86_64"), _ARCHITECTURE_INVALID); /* uname spelling */
        ASSERT_EQ(architecture_from_string("aarch64"), _ARCHITECTURE_INVALID);
        ASSERT_EQ(architecture_from_string(""), _ARCHITECTURE_INVALID);
        ASSERT_EQ(architecture_from_string(NULL), _ARCHITECTURE_INVALID);
        ASSERT_TRUE(architecture_to_string(_ARCHITECTURE_MAX) == NULL);
        ASSERT_TRUE(architecture_to_string(_ARCHITECTURE_INVALID) == NULL);
}

TEST(architecture_native) {
        Architecture a = architecture_native();
        ASSERT_TRUE(a >= 0 && a < _ARCHITECTURE_MAX);
#if defined(__x86_64__)
        ASSERT_EQ(a, ARCHITECTURE_X86_64);
        ASSERT_EQ(architecture_secondary(a), ARCHITECTURE_X86);
#elif defined(__aarch64__)
        ASSERT_EQ(a, ARCHITECTURE_ARM64);
        ASSERT_EQ(architecture_secondary(a), ARCHITECTURE_ARM);
#endif
        ASSERT_EQ(architecture_secondary(ARCHITECTURE_RISCV64), _ARCHITECTURE_INVALID);
}

TEST(designators) {
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                const char *s = partition_designator_to_string(d);
                ASSERT_TRUE(s);
                ASSERT_EQ(partition_designator_from_string(s), d);
        }
        ASSERT_EQ(partition_designator_from_string("root-verity-sig"), PARTITION_ROOT_VERITY_SIG);
        ASSERT_EQ(partition_designator_from_string("user-home"), PARTITION_USER_HOME);
        ASSERT_EQ(partition_designator_from_string("root-x86-64"), _PARTITION_DESIGNATOR_INVALID);
        ASSERT_EQ(partition_verity_of(PARTITION_ROOT), PARTITION_ROOT_VERITY);
        ASSERT_EQ(partition_verity_of(PARTITION_USR), PARTITION_USR_VERITY);
        ASSERT_EQ(partition_verity_of(PARTITION_HOME), _PARTITION_DESIGNATOR_INVALID);
        ASSERT_EQ(partition_verity_of(PARTITION_ROOT_VERITY), _PARTITION_DESIGNATOR_INVALID);
        ASSERT_EQ(partition_verity_sig_of(PARTITION_USR), PARTITION_USR_VERITY_SIG);
        ASSERT_EQ(partition_verity_sig_of(PARTITION_ESP), _PARTITION_DESIGNATOR_INVALID);
        ASSERT_EQ(partition_data_of(PARTITION_USR_VERITY_SIG), PARTITION_USR);
        ASSERT_EQ(partition_data_of(PARTITION_ROOT_VERITY), PARTITION_ROOT);
        ASSERT_EQ(partition_data_of(PARTITION_ROOT), _PARTITION_DESIGNATOR_INVALID);
        ASSERT_TRUE(partition_designator_has_arch(PARTITION_ROOT));
        ASSERT_TRUE(partition_designator_has_arch(PARTITION_USR_VERITY_SIG));
        ASSERT_FALSE(partition_designator_has_arch(PARTITION_ESP));
        ASSERT_FALSE(partition_designator_has_arch(PARTITION_LINUX_GENERIC));
}

TEST(table_lookup) {
        Uuid u;
        ASSERT_OK(uuid_from_string("4f68bce3-e8cd-4db1-96e7-fbcaf984b709", &u));
        const DpsType *t = dps_type_from_uuid(&u);
        ASSERT_TRUE(t);
        ASSERT_EQ(t->designator, PARTITION_ROOT);
        ASSERT_EQ(t->arch, ARCHITECTURE_X86_64);
        ASSERT_TRUE(dps_type_find(PARTITION_ROOT, ARCHITECTURE_X86_64) == t);

        ASSERT_OK(uuid_from_string("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", &u));
        t = dps_type_from_uuid(&u);
        ASSERT_TRUE(t && t->designator == PARTITION_ESP && t->arch == _ARCHITECTURE_INVALID);
        /* Designators without an architecture ignore the one asked for. */
        ASSERT_TRUE(dps_type_find(PARTITION_ESP, ARCHITECTURE_ARM64) == t);
        ASSERT_TRUE(dps_type_find(PARTITION_ROOT, _ARCHITECTURE_INVALID) == NULL);

        ASSERT_OK(uuid_from_string("0fc63daf-8483-4772-8e79-3d69d8477de4", &u));
        t = dps_type_from_uuid(&u);
        ASSERT_TRUE(t && t->designator == PARTITION_LINUX_GENERIC);

        ASSERT_OK(uuid_from_string("00000000-0000-0000-0000-000000000001", &u));
        ASSERT_TRUE(dps_type_from_uuid(&u) == NULL);
        ASSERT_TRUE(dps_type_from_uuid(NULL) == NULL);

        /* One entry per designator and architecture, no UUID twice. */
        const DpsType *table;
        size_t n = dps_table_get(&table);
        ASSERT_EQ(n, (size_t) _ARCHITECTURE_MAX * 6 + 9);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        ASSERT_FALSE(uuid_equal(&table[i].uuid, &table[j].uuid));
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                for (Architecture a = 0; a < _ARCHITECTURE_MAX; a++)
                        ASSERT_TRUE(dps_type_find(d, a));
}

/* systemd's aliases for the native and secondary architecture: "root", "usr-secondary-verity". */
static const DpsType *alias_entry(const char *name) {
        static const char *const kinds[] = { "", "-verity", "-verity-sig" };
        for (int secondary = 0; secondary < 2; secondary++)
                for (int data = 0; data < 2; data++)
                        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                                char buf[64];
                                snprintf(buf, sizeof(buf), "%s%s%s", data ? "usr" : "root",
                                         secondary ? "-secondary" : "", kinds[k]);
                                if (!streq(buf, name))
                                        continue;
                                PartitionDesignator d = data ? PARTITION_USR : PARTITION_ROOT;
                                d = k == 0 ? d : k == 1 ? partition_verity_of(d) : partition_verity_sig_of(d);
                                Architecture a = architecture_native();
                                return dps_type_find(d, secondary ? architecture_secondary(a) : a);
                        }
        return NULL;
}

TEST(table_matches_systemd_id128) {
        FILE *f = popen("systemd-id128 show 2>/dev/null", "r");
        char line[256];
        if (!f || !fgets(line, sizeof(line), f)) { /* header line */
                if (f)
                        pclose(f);
                fprintf(stderr, "systemd-id128 is not available, skipping the comparison\n");
                return;
        }

        const DpsType *table;
        size_t n = dps_table_get(&table), n_named = 0, n_aliases = 0;
        while (fgets(line, sizeof(line), f)) {
                char name[128], id[64];
                if (sscanf(line, "%127s %63s", name, id) != 2)
                        continue;
                Uuid u;
                ASSERT_OK(uuid_from_string(id, &u));

                const DpsType *alias = alias_entry(name);
                if (alias) {
                        ASSERT_TRUE(uuid_equal(&alias->uuid, &u));
                        n_aliases++;
                        continue;
                }
                const DpsType *t = dps_type_from_uuid(&u);
                if (!t)
                        ASSERT_FAIL_("systemd-id128 knows %s (%s), our table does not", name, id);
                char ours[128];
                dps_type_name(t, ours, sizeof(ours));
                ASSERT_STREQ(ours, name);
                n_named++;
        }
        ASSERT_EQ(pclose(f), 0);
        ASSERT_EQ(n_named, n); /* every entry of ours printed by systemd, once each (UUIDs are unique) */
        ASSERT_TRUE(n_aliases >= 6);
}

TESTS_MAIN
