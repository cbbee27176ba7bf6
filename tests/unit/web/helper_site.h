/* The test project shared by the web tests (helper_site.c). */
#ifndef MN_TEST_HELPER_SITE_H
#define MN_TEST_HELPER_SITE_H

#include <manouche/testing.h>
#include <manouche/web.h>

#include <criterion/criterion.h>

extern const mn_project test_project;
extern const mn_project test_project_custom;

/* A client on a fresh site; env is NULL or {"NAME", "value", ..., NULL}. */
mn_client *test_client(const mn_project *project, const char *const *env);
void test_client_done(mn_client *c);

#endif
