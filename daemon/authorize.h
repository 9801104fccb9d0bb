/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may do what (see authorize.c): a leaf that knows the bus and polkit, not the operations it
 * decides about; the caller is told the decision through a callback. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "error.h"

/* The polkit action of reads that name a path or pass an image policy (see bus-portable.c). */
#define INSPECT_ACTION "org.graft.inspect-images"

/* r: 0 authorized, negative refused (the request's error filled). */
typedef void (*AuthorizeDoneFn)(void *userdata, int r);

/* Lives as long as the decision is pending (the caller's, e.g. inside its operation). */
typedef struct AuthorizeRequest {
        sd_bus *bus;             /* where polkit is asked */
        sd_bus_message *call;    /* the method call being decided */
        const char *action;      /* the polkit action; NULL: everybody may */
        const char *description; /* what is asked, for the messages ("AttachImage foo") */
        uid_t uid;               /* the caller's, (uid_t) -1 unknown */
        GraftError *error;       /* the refusal goes here */
        sd_bus_slot *slot;       /* the pending question to polkit */
        AuthorizeDoneFn done;    /* called once polkit answered (never when 1 or <0 is returned) */
        void *userdata;
} AuthorizeRequest;

/* 1: authorized now (no action, or root); 0: polkit was asked, q->done comes later; negative:
 * refused now (q->error filled). */
int authorize(AuthorizeRequest *q);
