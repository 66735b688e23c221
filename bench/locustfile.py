"""Locust user for bench/compare.py: FastHttpUser, GET / as fast as it can (no wait)."""

from locust import FastHttpUser, constant, task


class Bench(FastHttpUser):
    """One closed-loop user: GET /, wait for the response, go again."""

    wait_time = constant(0)

    @task
    def root(self) -> None:
        self.client.get("/")
