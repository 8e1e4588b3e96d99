"""Files the repository keeps generated: chart/README.md's tables and chart/values.schema.json
(chart_docs), chart/files/dashboard.json (dashboard), and the monitoring picture in docs
(prometheus_picture). Tests check that the generated files are current."""
