# The two commands of the README. Both stop at once if PostgreSQL or Redis is down.
.PHONY: run test lint

run:  ## set up everything and run the platform (web, workers, beat)
	@scripts/run.sh

test:  ## run the whole test suite
	@scripts/test.sh $(ARGS)

lint:  ## ruff and the import contracts (also the first step of `make test`)
	@scripts/lint.sh
