/* humanize: Kubernetes' HumanDuration (see humanize.h). */
#include "humanize.h"

#include <stdio.h>

void humanize_duration(int64_t s, char *out, size_t outsz)
{
    long long m, h, d;

    if (s < -1) {
        snprintf(out, outsz, "<invalid>");
        return;
    }
    if (s < 0)
        s = 0;
    /* exact seconds, then minutes, hours, days and years: coarser as the age grows */
    if (s < 120) {
        snprintf(out, outsz, "%llds", (long long)s);
        return;
    }
    m = (long long)s / 60;
    if (m < 10) {
        if (s % 60)
            snprintf(out, outsz, "%lldm%llds", m, (long long)(s % 60));
        else
            snprintf(out, outsz, "%lldm", m);
        return;
    }
    if (m < 180) {
        snprintf(out, outsz, "%lldm", m);
        return;
    }
    h = (long long)s / 3600;
    if (h < 8) {
        if (m % 60)
            snprintf(out, outsz, "%lldh%lldm", h, m % 60);
        else
            snprintf(out, outsz, "%lldh", h);
        return;
    }
    if (h < 48) {
        snprintf(out, outsz, "%lldh", h);
        return;
    }
    d = h / 24;
    if (h < 24 * 8) {
        if (h % 24)
            snprintf(out, outsz, "%lldd%lldh", d, h % 24);
        else
            snprintf(out, outsz, "%lldd", d);
        return;
    }
    if (h < 24 * 365 * 2) {
        snprintf(out, outsz, "%lldd", d);
        return;
    }
    if (h < 24 * 365 * 8) {
        if (d % 365)
            snprintf(out, outsz, "%lldy%lldd", d / 365, d % 365);
        else
            snprintf(out, outsz, "%lldy", d / 365);
        return;
    }
    snprintf(out, outsz, "%lldy", d / 365);
}
