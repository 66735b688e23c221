// The k6 user bench/compare.py runs: closed loop, K6_VUS constant virtual users for
// K6_SECONDS, each sending `GET K6_URL` again as soon as the last answer arrived (no sleep),
// like the other generators' connections. Both runs (throughput, latency) use it.
import http from "k6/http";

export const options = {
  scenarios: {
    closed: {
      executor: "constant-vus",
      vus: Number(__ENV.K6_VUS),
      duration: `${__ENV.K6_SECONDS}s`,
      gracefulStop: "5s",
    },
  },
  // The other generators read and drop the body too.
  discardResponseBodies: true,
  summaryTrendStats: ["p(50)", "p(99)", "count"],
};

export default function () {
  http.get(__ENV.K6_URL);
}
