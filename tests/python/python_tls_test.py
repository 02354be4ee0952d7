#!/usr/bin/env python3
"""TLS from Python: the stock python3-thrift TSSLSocket (no code of thrifty's) against a real
storeserver serving TLS, with a CA and certificates made by the openssl command here.

Environment (set by ctest): THRIFTY_BIN and THRIFTY_PY_GEN, as for python_client_test.py.
"""

import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import python_client_test as base  # the generated code, free ports, die_with_parent

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TSSLSocket, TTransport  # noqa: E402

from diststore import Store  # noqa: E402
from diststore.ttypes import Consistency  # noqa: E402


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certificates(directory):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=py-ca")
    key, csr, pem = (os.path.join(directory, n) for n in ("node.key", "node.csr", "node.pem"))
    ext = os.path.join(directory, "node.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=node")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", pem, "-days", "2", "-extfile", ext)
    return ca, pem, key


def tls_connect(port, ca, timeout_ms=10000):
    sock = TSSLSocket.TSSLSocket("127.0.0.1", port, cert_reqs=ssl.CERT_REQUIRED, ca_certs=ca)
    sock.setTimeout(timeout_ms)
    transport = TTransport.TFramedTransport(sock)
    protocol = TBinaryProtocol.TBinaryProtocol(transport, strictRead=True, strictWrite=True)
    client = Store.Client(protocol)
    transport.open()
    return client, transport


class TlsFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise RuntimeError("no openssl command on PATH (scripts/deps installs it)")
        cls.dir = tempfile.TemporaryDirectory(prefix="thrifty-py-tls-")
        cls.ca, cert, key = make_certificates(cls.dir.name)
        cls.log = tempfile.NamedTemporaryFile(prefix="thrifty-py-tls-node-", suffix=".log")
        cls.proc = None
        for _ in range(3):
            cls.port = base.free_port()
            cls.proc = subprocess.Popen(
                [os.path.join(base.BIN_DIR, "storeserver"), "--memory", "--port=%d" % cls.port,
                 "--discover-from=%d" % cls.port, "--discover-to=%d" % cls.port,
                 "--tls-cert=" + cert, "--tls-key=" + key, "--tls-ca=" + cls.ca],
                stdin=subprocess.DEVNULL, stdout=cls.log, stderr=subprocess.STDOUT,
                preexec_fn=base.die_with_parent)
            if cls.wait_ready():
                return
            cls.stop()
        raise RuntimeError("storeserver with TLS did not start")

    @classmethod
    def wait_ready(cls):
        deadline = time.monotonic() + base.START_TIMEOUT_S
        while time.monotonic() < deadline:
            if cls.proc.poll() is not None:
                return False
            try:
                client, transport = tls_connect(cls.port, cls.ca, 1000)
                try:
                    client.ping()
                    return True
                finally:
                    transport.close()
            except (TTransport.TTransportException, OSError):
                time.sleep(0.05)
        return False

    @classmethod
    def stop(cls):
        if cls.proc is not None and cls.proc.poll() is None:
            os.kill(cls.proc.pid, signal.SIGKILL)
        if cls.proc is not None:
            cls.proc.wait(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.stop()
        cls.dir.cleanup()

    def test_put_and_get_over_tls(self):
        client, transport = tls_connect(self.port, self.ca)
        try:
            client.put("py-tls", b"over TLS", Consistency.ONE)
            self.assertEqual(client.get("py-tls", None), b"over TLS")
            self.assertGreaterEqual(client.stats()["rpc_connections_open"], 1)
        finally:
            transport.close()

    def test_plaintext_to_the_tls_port_is_refused(self):
        sock = TSocket.TSocket("127.0.0.1", self.port)
        sock.setTimeout(5000)
        transport = TTransport.TFramedTransport(sock)
        client = Store.Client(TBinaryProtocol.TBinaryProtocol(transport))
        transport.open()
        try:
            with self.assertRaises((TTransport.TTransportException, OSError)):
                client.ping()
        finally:
            transport.close()
        client, transport = tls_connect(self.port, self.ca)
        try:
            self.assertGreaterEqual(client.stats()["rpc_tls_handshake_failures"], 1)
        finally:
            transport.close()

    def test_a_server_not_of_the_ca_is_not_trusted(self):
        other = tempfile.TemporaryDirectory(prefix="thrifty-py-tls-other-")
        try:
            other_ca, _, _ = make_certificates(other.name)
            with self.assertRaises((TTransport.TTransportException, ssl.SSLError, OSError)):
                client, transport = tls_connect(self.port, other_ca)
                try:
                    client.ping()
                finally:
                    transport.close()
        finally:
            other.cleanup()


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout, verbosity=2))
