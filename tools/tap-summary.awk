# Passes busted's TAP output through and closes with "N passed, N failed".
# With -v quiet=1 it prints only the failures (each "not ok" line with its
# "#" diagnostics) before the summary line.
# Exits 1 when a test failed or when no test ran.
/^ok / { passed++; in_failure = 0 }
/^not ok / { failed++; in_failure = 1 }
!quiet || (in_failure && (/^not ok / || /^#/)) { print; fflush() }
END {
  printf "%d passed, %d failed\n", passed, failed
  exit (failed > 0 || passed == 0) ? 1 : 0
}
