#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/):
small well-formed inputs of every kind each target reads, in the input
layout its tests/fuzz/fuzz_<target>.c describes. Run from the top of the
tree; the files are in git, so this is only needed when a format changes."""
import base64
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def body(b):
    return struct.pack(">I", len(b)) + b


# ---- proto/tcp: [limits][seed] stream; limits 0x3f = the defaults ----------
TCP = {
    "ping": b"ping\n",
    "pub": b"pub fz q 0\n" + body(b"hello"),
    "pub_crlf": b"pub fz q 5\r\n" + body(b"x" * 20) + b"ping\r\n",
    "mpub": b"mpub fz 2\n" + body(b'{"body":"a","routeKey":"q"}') + body(b'{"body":"b","delay":1}'),
    "pop": b"pop fz q 0\npop fz q\ndead fz q 3\n",
    "ack": b"ack 384261148721025024 fz q\n",
    "set": b"set fz 1 2 30 5\nset fz 0\n",
    "queue": b"queue fz q\nrequeue fz q\nrequeue fz q 7\n",
    "chan": b"subscribe ch\npublish ch\n" + body(b"abc") + b"publish ch hello there\nunsubscribe ch\n",
    "auth": b"auth s3cret-t0ken\nping\n",
    "manage": b"purge fz q force\ndelqueue fz q\ndeltopic fz\npeek fz q delayed\n"
              b"deadlist fz q 5\nkick fz q 2\ntouch fz q 9\nrelease fz q 9 1000\n",
    "errors": b"\nnosuch cmd\nmpub fz 0\n",
    "long_args": b"pop a b c d e f g h i j k\n",
    "tls": b"\x16\x03\x01\x00\x05hello",
}
for name, s in TCP.items():
    write("tcp", name, b"\x3f\x01" + s)
    write("tcpconn", name, bytes([0x00 if name != "auth" else 0x04, 0x01]) + s)
write("tcp", "small_limits", b"\x00\x07" + TCP["pub"] + TCP["mpub"])
write("tcpconn", "small_limits", b"\x0b\x07" + TCP["pub"] + TCP["mpub"] + TCP["long_args"])

# ---- proto/op: [kind] payload ----------------------------------------------
OPS = dict(push=1, mpush=2, pop=3, dead=4, ack=5, requeue=6, release=7, config=8, toggle_ack=9,
           declare=10, stat=11, queues=12, msg=13, crash=14, purge=15, del_queue=16,
           del_topic=17, peek=18, list_dead=19, kick=20, touch=21, nack=22)


def name(s):
    return struct.pack(">H", len(s)) + s


def item(i, delay, rk, b):
    return struct.pack(">QQ", i, delay) + name(rk) + struct.pack(">I", len(b)) + b


def req(op, payload=b""):
    return struct.pack(">H", OPS[op]) + payload


REQS = {
    "push": req("push", item(77, 1500, b"a.b.c", b"x\0y")),
    "mpush": req("mpush", struct.pack(">I", 2) + item(1, 0, b"q", b"one") + item(2, 5, b"", b"")),
    "pop": req("pop", name(b"homework") + struct.pack(">Q", 3000) + b"\x01"),
    "dead": req("dead", name(b"q") + struct.pack(">Q", 0)),
    "ack": req("ack", name(b"q") + struct.pack(">Q", 384261148721025024)),
    "config": req("config", struct.pack(">iiii", 1, 2, 30, -1)),
    "declare": req("declare", name(b"q")),
    "stat": req("stat"),
    "msg": req("msg", struct.pack(">Q", 9)),
    "crash": req("crash", struct.pack(">I", 3)),
    "purge": req("purge", name(b"q") + struct.pack(">QQ", 0, 0) + b"\x01"),
    "nack": req("nack", name(b"q") + struct.pack(">QQ", 9, 1000) + b"\x00"),
}


def reply(ok, ecode, kind, msg, rest=b""):
    return bytes([ok]) + struct.pack(">HB", ecode, kind) + name(msg) + rest


REPLIES = {
    "none": reply(0, 4, 0, b"bindKey:q can't match queue"),
    "message": reply(1, 0, 1, b"", struct.pack(">QIB", 42, 1, 1) + body(b"payload")),
    "id": reply(1, 0, 2, b"", struct.pack(">Q", 42)),
    "json": reply(1, 0, 3, b"", body(b'{"a":1}')),
    "empty": reply(1, 0, 4, b""),
    "count": reply(0, 9, 5, b"no space", struct.pack(">I", 3)),
}
SETTINGS = struct.pack(">iiQiQiiQ", 30, 5, 259200000, 0, 64 << 20, 2, 1024, 1 << 20)
for k, v in REQS.items():
    write("op", "req_" + k, b"\x00" + v)
for k, v in REPLIES.items():
    write("op", "reply_" + k, b"\x01" + v)
write("op", "settings", b"\x02" + SETTINGS)


def frame(t, payload, rid=0):
    return struct.pack(">IIQ", t, len(payload), rid) + payload


write("op", "frames", b"\x03" + frame(1, struct.pack(">II", 2, 1234)) + frame(100, REQS["push"], 1) +
      frame(200, REPLIES["message"], 1) + frame(5, SETTINGS) + frame(3, b"", 9) +
      frame(4, b"cannot open") + frame(2, b""))

# ---- master/http.c: [limits][seed] request bytes ---------------------------
FORM = "application/x-www-form-urlencoded"
HTTP = {
    "ping": b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
    "pop": b"GET /pop?topic=fz&bindKey=q&timeout=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "push_form": ("POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 62\r\n\r\n"
                  "data=%%7B%%22body%%22%%3A%%22x%%22%%2C%%22topic%%22%%3A%%22fz%%22%%7D&z=1&q" % FORM).encode(),
    "push_json": b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n"
                 b'{"topic":"fz","body":"b\\u0000","delay":2,"routeKey":"a.b"}',
    "push_multipart": b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
                      b"Content-Length: 70\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{}\r\n--XX--\r\n",
    "config": b"GET /config?topic=fz&isAutoAck=1&mode=2&msgTTR=5&msgRetry=3 HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipeline": b"GET /ping HTTP/1.1\r\n\r\nGET /getAllTopicStat HTTP/1.1\r\n\r\n"
                b"GET /debug/workers HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\nGET /nosuch HTTP/1.1\r\n\r\n",
    "manage": b"GET /purgeQueue?topic=fz&bindKey=q&force=1 HTTP/1.1\r\n\r\n"
              b"GET /peek?topic=fz&bindKey=q&state=dead HTTP/1.1\r\n\r\n"
              b"GET /listDead?topic=fz&bindKey=q&limit=3 HTTP/1.1\r\n\r\n"
              b"GET /release?topic=fz&bindKey=q&msgId=5&delay=2 HTTP/1.1\r\n\r\n",
    "ack": b"GET /ack?topic=fz&bindKey=q&msgId=384261148721025024 HTTP/1.1\r\n\r\n"
           b"GET /msg?topic=fz&msgId=7 HTTP/1.1\r\n\r\nGET /requeue?topic=fz&bindKey=q HTTP/1.1\r\n\r\n",
    "web": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9504\r\nOrigin: http://127.0.0.1:9504\r\n"
           b"Sec-Fetch-Site: same-origin\r\nIf-None-Match: \"abc\"\r\n\r\nGET /app.js HTTP/1.1\r\n\r\n",
    "cross_origin": b"GET /getTopicStat?topic=fz HTTP/1.1\r\nHost: a\r\nOrigin: http://evil\r\n\r\n",
    "auth": b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret-t0ken\r\n\r\n"
            b"GET /node HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n",
    "chunked": b"POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
               b"5\r\n{\"top\r\n1f\r\nic\":\"fz\",\"body\":\"x\",\"delay\":0}\r\n0\r\n\r\n",
    "http10": b"GET /cluster/nodes HTTP/1.0\r\n\r\n",
    "bad": b"GET /ping%00 HTTP/1.1\r\n\r\nBROKEN\r\n\r\n",
}
for k, v in HTTP.items():
    write("http", k, (b"\x04" if k == "auth" else b"\x00") + b"\x01" + v)
write("http", "small_limits", b"\x03\x02" + HTTP["push_form"] + HTTP["pipeline"])


# ---- worker/record.c: [flags] record bytes ---------------------------------
def record1(typ, rid, ts=0, due=0, retry=0, flags=0, b=b""):
    """a record of the previous format (version 1, 48-byte header)"""
    size = (48 + len(b) + 7) & ~7
    tail = struct.pack(">BBHIQQQII", 1, typ, flags, len(b), rid, ts, due, retry, 0) + b
    tail += b"\0" * (size - 8 - len(tail))
    return struct.pack(">II", 0x474d5172, zlib.crc32(tail) & 0xffffffff) + tail


def record(typ, rid, ts=0, due=0, retry=0, flags=0, b=b"", seq=0, pos=0, epoch=1):
    """a record of format 2 (docs/storage.md): 64-byte header with epoch, seq, pos"""
    size = (64 + len(b) + 7) & ~7
    tail = struct.pack(">BBHIQQQIIQQ", 2, typ, flags, len(b), rid, ts, due, retry, epoch, seq,
                       pos) + b
    tail += b"\0" * (size - 8 - len(tail))
    return struct.pack(">II", 0x474d5172, zlib.crc32(tail) & 0xffffffff) + tail


def qpos(seg, off):
    return seg << 32 | off


for t in range(1, 9):
    write("record", "type%d" % t, b"\x00" + record(t, 5, 100, 200 if t == 1 else 0, 2, 1,
                                                  b"body!" if t == 1 else b"", seq=t,
                                                  pos=0 if t in (1, 8) else qpos(1, 64)))
write("record", "reloc", b"\x00" + record(1, 5, 100, 9000, 3, 0x0b, b"copy", seq=40, pos=7))
write("record", "fixup", b"\x03" + record(1, 5, b=b"x" * 13)[:-3] + b"\xff\xff\xff")
write("record", "v1_msg", b"\x04" + record1(1, 5, 100, 200, 2, 0, b"old body"))
write("record", "v1_fixup", b"\x07" + record1(3, 5)[:-1] + b"\x01")

# ---- worker/segment.c: [mode] [checkpoint] [damage] raw segment, or program ------
class Log:
    """a segment of format 2 records, positions and sequence numbers kept"""

    def __init__(self, no=1):
        self.no, self.data, self.seq, self.pos, self.last, self.at = no, b"", 0, {}, None, []

    def add(self, typ, rid, ts=0, due=0, retry=0, flags=0, b=b"", pos=None):
        if pos is None:
            pos = 0 if typ in (1, 8) else self.pos[rid]
        self.seq += 1
        off = len(self.data)
        rec = record(typ, rid, ts, due, retry, flags, b, seq=self.seq, pos=pos)
        if typ == 1 and not flags & 2:
            self.pos[rid] = qpos(self.no, off)
        self.data += rec
        self.at.append(qpos(self.no, off))
        self.last = (qpos(self.no, off), struct.unpack(">I", rec[4:8])[0])
        return self


lg = (Log().add(1, 1, 10, b=b"first").add(1, 2, 11, 5000, b=b"delayed").add(2, 1, 12, 42000)
      .add(1, 3, 13, b=b"third").add(3, 3).add(4, 1, 20, 0, 1, 1).add(1, 4, 14, b=b"x" * 100)
      .add(8, 0).add(1, 5, 15, b=b"after purge").add(2, 5, 16, 30000)
      .add(1, 6, 17, b=b"moved back").add(7, 6).add(1, 6, 18, b=b"again")
      .add(1, 7, 19, 9000, 2, 0x02, b"relocated, delayed", pos=0)
      .add(1, 8, 20, 0, 1, 0x06, b"relocated, tail", pos=qpos(1, 64))
      .add(1, 9, 21, b=b"nine").add(6, 9, retry=3))
seg = lg.data
write("segment", "raw", b"\x00" + seg)
write("segment", "raw_prealloc", b"\x04" + seg)
write("segment", "raw_torn", b"\x04" + seg[:-20])
mid = len(record(1, 1, 10, 0, 0, 0, b"first"))
write("segment", "raw_corrupt_middle", b"\x04" + seg[:mid + 9] + b"\xee" + seg[mid + 10:])
dl = Log().add(1, 7, 1, 0, 3, 0, b"dead letter").add(2, 7, 2, 9000).add(1, 8, 3, 0, 4, 0, b"two")
write("segment", "raw_dlq", b"\x06" + dl.data)
write("segment", "raw_auto_ack", b"\x0c" + seg)
write("segment", "raw_v1", b"\x04" + record1(1, 1, 10, 0, 0, 0, b"old") + record1(1, 2, 11, 5000) +
      record1(2, 1, 12, 42000) + record1(4, 1, 20, 0, 1, 1) + record1(3, 2))


def checkpoint(applied, check, cursor, max_seq, max_id, segs, ents):
    """a checkpoint's fields (the target's FIX flag makes its length and CRC right)"""
    out = struct.pack(">IIIIQQQQIIQQQII Q", 0x474d516b, 1, 0, 0, 0, 0xf00d5, applied, check[0],
                      check[1], 1, cursor, max_seq, max_id, 0, len(segs), len(ents))
    for sg in segs:
        out += struct.pack(">QQQQQ", *sg)
    for e in ents:   # id, pos, key, hkey, delivered_at, retry, len, state, kind
        out += struct.pack(">QQQQQIIBB6x", *e)
    return out


# what a scan of lg leaves: 5 recovered (in flight), 6 ready in the log, 7 delayed, 8 tail
end = qpos(1, len(seg))
ck = checkpoint(end, lg.last, lg.pos[6], lg.seq, 9, [(1, len(seg), 1, 1, 9)],
                [(5, lg.pos[5], 10, 0, 16, 0, 11, 1, 1), (8, lg.at[14], qpos(1, 64), 0, 0, 1, 15, 2, 0),
                 (7, lg.at[13], 0, 9000, 0, 2, 18, 3, 0)])
write("segment", "raw_checkpoint", b"\x14" + bytes([0x02]) + struct.pack(">H", len(ck)) + ck + seg)
write("segment", "raw_checkpoint_garbage", b"\x10" + b"\x00\x00\x40" + b"GMQk" + b"\x5a" * 60 + seg)
# damage to the checkpoint the first close writes: a flipped byte (not used
# then), a field changed with the CRC made right (forged: the cursor moved
# by 8, to another record boundary; moved by 1 it is no position gmq writes
# and does not decode: tests/fuzz/corpus/segment/open-*), torn; to the log
write("segment", "damage_ckpt_flip", b"\x24" + b"\x00\x00\x64\x40" + seg)
write("segment", "damage_ckpt_forged", b"\x24" + b"\x08\x00\x3f\x08" + seg)
write("segment", "damage_ckpt_entry", b"\x24" + b"\x08\x00\xa8\x02" + seg)
write("segment", "damage_ckpt_torn", b"\x24" + b"\x04\x00\x50\x00" + seg)
write("segment", "damage_log", b"\x24" + b"\x02\x02\x10\x04" + seg)


def prog_rec(typ, rid, flags=0, ts=0, due=0x80, retry=0, pos=0, epoch=0, b=b""):
    out = bytes([((typ - 1) << 3) | 0, rid - 1, flags, ts, due, retry, pos, epoch])
    if typ == 1:
        out += bytes([len(b)]) + b
    return out


prog = (prog_rec(1, 1, b=b"one") + prog_rec(1, 2, due=5, b=b"two") + prog_rec(2, 1) +
        prog_rec(1, 3, due=0x7f, b=b"far") + prog_rec(6, 2) + b"\x07" +          # next segment
        prog_rec(4, 1, flags=1, retry=2) + b"\x03\x04junk!" + b"\x04\x02" + prog_rec(1, 4, b=b"4") +
        prog_rec(3, 4) + prog_rec(1, 5, flags=0x0a, pos=0x83, b=b"reloc") + b"\x27" +  # a gap
        prog_rec(1, 6, b=b"six") + prog_rec(2, 6) + prog_rec(5, 2) + prog_rec(8, 1, epoch=0xf3) +
        b"\x1f" + prog_rec(1, 2, b=b"in the dlq") + prog_rec(2, 2) + b"\x05\x00\x10\x01" + b"\x36")
write("segment", "program", b"\x01" + prog)
write("segment", "program_auto_ack", b"\x09" + prog)
write("segment", "program_damage", b"\x21" + b"\x08\x00\x60\x10" + prog)

# ---- common/config.c: file bytes [\0 flag \0 flag ...] ----------------------
with open(os.path.join(ROOT, "etc", "gmq.conf"), "rb") as f:
    conf = f.read()
write("config", "gmq_conf", conf)
write("config", "gmq_conf_flags", conf + b"\0-node_id=7\0--fsync=everysec\0-max_body=2M")
write("config", "small", b'node_id = 3\nfsync = no\nsegment_size = 1M # one\n'
                         b'auth_token = "t0k"\n/* c */ tcp_addr = "[::1]:1"\n')
write("config", "quotes", b"data_save_path = '${HOME}/x'\nlog_file = \"a\\\"b\"\n"
                          b"tls_min_version = 1.3\nhttp_tls = yes\n")
write("config", "bad", b"node_id = 2000\n")
write("config", "help", b"\0--help")

# ---- common/etcdapi.c, client/discovery.c: [parser] answer -----------------
b64 = lambda s: base64.b64encode(s.encode()).decode()
node = json.dumps({"node_id": "3", "tcp_addr": "10.0.0.3:9503", "http_addr": "10.0.0.3:9504",
                   "weight": "2", "join_time": "2026-01-01 00:00:00", "started_at": "x",
                   "version": "1.0"})
node2 = json.dumps({"node_id": 4, "tcp_addr": "h:1", "weight": 5})
rng = {"header": {"revision": "12"}, "count": "2",
       "kvs": [{"key": b64("/gmq/node-3"), "value": b64(node), "lease": "7587",
                "mod_revision": "11", "create_revision": "3", "version": "1"},
               {"key": b64("/gmq/node-4"), "value": b64(node2), "mod_revision": "12"}]}
write("etcd", "range", b"\x00" + json.dumps(rng).encode())
write("etcd", "range_empty", b"\x00" + b'{"header":{"revision":"1"}}')
write("etcd", "error", b"\x00" + b'{"error":"etcdserver: requested lease not found","code":5,"message":"x"}')
watch = {"result": {"header": {"revision": "14"}, "events": [
    {"kv": {"key": b64("/gmq/node-3"), "value": b64(node), "mod_revision": "13"}},
    {"type": "DELETE", "kv": {"key": b64("/gmq/node-4"), "mod_revision": "14"}}]}}
write("etcd", "watch", b"\x01" + json.dumps(watch).encode())
write("etcd", "watch_created", b"\x01" + b'{"result":{"header":{"revision":"2"},"created":true}}')
write("etcd", "watch_canceled", b"\x01" + b'{"result":{"canceled":true,"cancel_reason":"compacted"}}')
write("etcd", "grant", b"\x02" + b'{"header":{},"ID":"7587","TTL":"30"}')
write("etcd", "keepalive", b"\x03" + b'{"result":{"ID":"7587","TTL":"30"}}')
write("etcd", "timetolive", b"\x04" + b'{"ID":"7587","TTL":"-1","grantedTTL":"30"}')
write("etcd", "ok", b"\x05" + b'{"header":{"cluster_id":"1","revision":"3"}}')
write("etcd", "b64", b"\x06" + b"L2dtcS9ub2RlLTM=")
write("etcd", "endpoints", b"\x07" + b" 127.0.0.1:2379, https://h:2379/ ,http://[::1]:1")
write("etcd", "addr", b"\x07" + b"[::]:9503")
write("etcd", "node", b"\x08" + bytes([11]) + b"/gmq/node-3" + node.encode())
write("etcd", "node_weights", b"\x08" + bytes([11]) + b"/gmq/node-9" +
      b'{"http_addr":"a:1","weight":"2147483647"}')
