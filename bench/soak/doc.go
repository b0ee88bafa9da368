// Package soak runs stellarfeed for a long time under a realistic, churning
// load and fails if it leaks or loses pings.
//
// It starts the real binary (`stellarfeed run` on the embedded demo, so the
// monitors poll the built-in retailer simulator, here with its faults on:
// 429s, 503s, captchas, blocks, slow and truncated answers) and, for the
// whole duration:
//
//   - churners connect from 127.0.0.2–127.0.0.9, receive for 1–8 s and
//     disconnect (close frame, FIN or RST), again and again;
//   - a pinger posts marked pings through the ingest API at a steady rate;
//   - canaries (well-behaved clients on keys nobody touches) must receive
//     every ping the API accepted, in order: one missing is a loss;
//   - a key rotator creates, rotates and revokes subscriber keys through
//     the admin API and checks that each cuts the connections of the old
//     secret; it also rotates the churners' keys under them;
//   - every Every (10 s) a sample is taken: the server's RSS and open fds
//     (from /proc/PID), goroutines and deliveries (from /metrics), canary
//     deliveries and losses, churn and rotation counts.
//
// Before the first sample it publishes 16,384 pings (Options.Prefill): the
// broadcaster keeps that many recent pings in its message log (~4.5 MiB of
// heap), so until the log is full memory grows with every ping by design.
// Without the prefill, a run at 5 pings/s would see that growth for its
// first 55 minutes.
//
// At the end it writes soak.csv and soak.png (RSS, fds and goroutines over
// time) and judges growth: after a warm-up (a tenth of the run, at most a
// minute), the median of the last quarter of the samples is compared with
// the median of the first quarter, and the run fails when it is higher by
// more than max(Rel × first, Abs) — see DefaultLimits. Any canary loss,
// reordering or disconnect, and any failed key cut, fails it too.
package soak
