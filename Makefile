# custier — PGXS build.  `make test` and `make demo` are the two commands the
# README starts with; everything else is stock PGXS.

EXTENSION   = custier
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

# Modules in dependency order: each is src/<name>.c plus src/<name>.sql.
CUSTIER_MODULES = tier metrics policy history adjustment evaluation
PRESENT_MODULES = $(foreach m,$(CUSTIER_MODULES),$(if $(wildcard src/$(m).sql),$(m)))

MODULE_big  = custier
OBJS        = src/custier.o $(patsubst %,src/%.o,$(foreach m,$(PRESENT_MODULES),$(if $(wildcard src/$(m).c),$(m))))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*--*.sql))
EXTRA_CLEAN = $(DATA_built)

# pg_regress: inputs in sql/, expected output in expected/ (see README).
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=plpgsql
# Isolation specs: test/specs/NAME.spec, compared with expected/NAME.out.
ISOLATION      = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=output_iso --load-extension=custier

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# Without the server headers only the two scripted commands work: they
# install what is missing first.
all install installcheck:
	@echo "PostgreSQL server development files not found (PG_CONFIG=$(PG_CONFIG))." >&2
	@echo "Install postgresql-server-dev-15, or run 'make test' as root to do it." >&2
	@exit 1
endif

$(DATA_built): $(patsubst %,src/%.sql,$(PRESENT_MODULES)) $(EXTENSION).control Makefile
	( printf '%s\n' '-- custier $(EXTVERSION): generated from src/*.sql by the Makefile; do not edit.' \
	    '\echo Use "CREATE EXTENSION custier" to load this file. \quit'; \
	  for f in $(patsubst %,src/%.sql,$(PRESENT_MODULES)); do printf '\n-- ==== %s ====\n' "$$f"; cat $$f; done ) > $@

.PHONY: test demo bench
# Builds with warnings as errors, runs pg_regress, isolation and pgTAP suites
# on a throwaway cluster (installing Debian packages first when root).
test:
	bash .ci/test.sh
# Builds, installs into a throwaway cluster and runs the demo.
demo:
	bash .ci/demo.sh
bench:
	bash bench/run.sh $(BENCH)
