/* Test-only preload for Janus: Janus 1.1 never gathers ICE candidates on loopback
 * interfaces. Clearing IFF_LOOPBACK in getifaddrs() lets it offer 127.0.0.1, so the
 * test suite can run its WebRTC peers in a network namespace that has only `lo`.
 * Loaded only when STREAMCAT_JANUS_LOOPBACK_ICE=1 (tests and benchmarks). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>

int getifaddrs(struct ifaddrs **ifap) {
    static int (*real_getifaddrs)(struct ifaddrs **) = 0;
    if (!real_getifaddrs)
        real_getifaddrs = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int rc = real_getifaddrs(ifap);
    if (rc == 0)
        for (struct ifaddrs *it = *ifap; it; it = it->ifa_next)
            it->ifa_flags &= ~IFF_LOOPBACK;
    return rc;
}
