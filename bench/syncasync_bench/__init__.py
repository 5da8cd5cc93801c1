# SPDX-License-Identifier: ISC
"""syncasync_bench - syncasync's benchmarks, driven by bench/run-bench.

  procs        every process the bench starts, readiness, /proc sampling
  machine      tools, versions, the machine
  wrk          running wrk and reading its output
  servers      lighttpd and Apache (deploy/syncasync-serve with bench/'s
               configurations), uvicorn, FastCGI backends on TCP
  throughput   wrk against each configuration
  concurrency  C sleeping requests in flight at once
  startup      one sync_cgi invocation against the reference CGI
  report       targets, results.md, chart.svg
  cli          options and the whole run

Standard library only.
"""
