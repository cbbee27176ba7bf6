/* helper_data.h — a small library fixture shared by the query tests. */
#ifndef MN_TEST_HELPER_DATA_H
#define MN_TEST_HELPER_DATA_H

#include "helper_models.h"

typedef struct library {
    Author *ann, *bob, *cy;         /* cy has no books; bob's mentor is ann */
    Book *dune, *emma, *odes, *sql; /* dune, emma by ann; odes, sql by bob */
    Tag *classic, *poetry, *tech;
} library;

/* Authors, books (with prices, dates, pages, genres), tags and reviews; fails the test on
 * error. */
void library_fill(mn_orm *o, library *lib);

#endif
