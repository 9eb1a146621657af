"""Support shared by the tests and the benchmarks: the test inference server, apps launched in process,
a REST client, the model builders and the statistics they report. Product code never imports it."""
