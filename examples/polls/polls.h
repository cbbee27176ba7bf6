/* polls.h — what the files of the polls example share. */
#ifndef POLLS_H
#define POLLS_H

#include <manouche/manouche.h>

extern const mn_route polls_urls[];

#endif
