"""Stands in for python-dockerflow's JsonLogFormatter, which socorro's
logconfig_dict names: each record as one line of JSON in Mozilla's
"mozlog" shape."""

import json
import logging
import socket


class JsonLogFormatter(logging.Formatter):
    def __init__(self, fmt=None, datefmt=None, style="%", logger_name="Dockerflow"):
        super().__init__(fmt, datefmt, style)
        self.logger_name = logger_name
        self.hostname = socket.gethostname()

    def format(self, record):
        return json.dumps({
            "Timestamp": int(record.created * 1e9),
            "Type": record.name,
            "Logger": self.logger_name,
            "Hostname": getattr(record, "hostname", self.hostname),
            "EnvVersion": "2.0",
            "Severity": {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3,
                         "CRITICAL": 2}.get(record.levelname, 6),
            "Pid": record.process,
            "Fields": {"msg": record.getMessage()},
        })
