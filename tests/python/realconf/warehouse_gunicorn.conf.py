# realconf: https://github.com/pypi/warehouse/blob/bdee045dead795f8eabe2f0c1f5d3b1c5c7a3eac/gunicorn.conf.py
# realconf: sha256 9972616d1ac21d0139d4ac6a9aa64f34cdcebabc9aa13fb5c22559b8c52577db of that file; a line we changed follows its original, kept as '# realconf: was: ...'
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
# http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

bind = "unix:/var/run/cabotage/cabotage.sock"
backlog = 2048
preload_app = True
max_requests = 2048
max_requests_jitter = 128

worker_connections = 1000
timeout = 60
keepalive = 2

errorlog = "-"
loglevel = "info"
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def when_ready(server):
    open("/tmp/app-initialized", "w").close()
