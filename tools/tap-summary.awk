# Passes busted's TAP output through and closes with "N passed, N failed".
# Exits 1 when a test failed or when no test ran.
/^ok / { passed++ }
/^not ok / { failed++ }
{ print; fflush() }
END {
  printf "%d passed, %d failed\n", passed, failed
  exit (failed > 0 || passed == 0) ? 1 : 0
}
