/* helper_data.h — a small library fixture shared by the query tests. */
#ifndef MN_TEST_HELPER_DATA_H
#define MN_TEST_HELPER_DATA_H

#include "helper_db.h"
#include "helper_models.h"

typedef struct library {
    Author *ann, *bob, *cy;         /* cy has no books; bob's mentor is ann */
    Book *dune, *emma, *odes, *sql; /* dune, emma by ann; odes, sql by bob */
    Tag *classic, *poetry, *tech;
} library;

/* Authors, books (with prices, dates, pages, genres), tags and reviews; fails the test on
 * error. */
void library_fill(mn_orm *o, library *lib);

/* The rows of a library queryset by name, comma-separated, in the order they come (in t's
 * arena): a book's title, an author's or tag's name, a review's body ("?" for other models).
 * Fails the test when the query fails. */
const char *library_names(testdb *t, mn_qs *qs);

/* Declares the file's test database `t`, its library `lib` and the suite NAME, each of whose
 * tests starts on a fresh database holding the library. */
#define LIBRARY_SUITE(name)                                                                        \
    static testdb t;                                                                               \
    static library lib;                                                                            \
    static void library_suite_setup(void)                                                          \
    {                                                                                              \
        tdb_open(&t);                                                                              \
        library_fill(t.o, &lib);                                                                   \
    }                                                                                              \
    static void library_suite_teardown(void)                                                       \
    {                                                                                              \
        tdb_close(&t);                                                                             \
    }                                                                                              \
    TestSuite(name, .init = library_suite_setup, .fini = library_suite_teardown)

#endif
