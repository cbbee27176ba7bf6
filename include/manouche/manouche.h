/* manouche/manouche.h — the whole public API in one include, for projects and apps.
 * Each header stands alone too; this one only gathers them, bottom layer first. */
#ifndef MANOUCHE_MANOUCHE_H
#define MANOUCHE_MANOUCHE_H

#include <manouche/core.h>
#include <manouche/json.h>
#include <manouche/settings.h>
#include <manouche/rt.h>
#include <manouche/http.h>
#include <manouche/value.h>
#include <manouche/template.h>
#include <manouche/db.h>
#include <manouche/orm.h>
#include <manouche/staticfiles.h>
#include <manouche/web.h>
#include <manouche/webdb.h>
#include <manouche/cli.h>
#include <manouche/testing.h>

#endif
