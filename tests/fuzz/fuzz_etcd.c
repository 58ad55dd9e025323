/*
 * fuzz_etcd.c - what the node and its clients read from etcd's JSON
 * gateway (common/etcdapi.c) and the node values the client's discovery
 * parses and balances over (client/discovery.c). The first byte picks the
 * parser; the rest is the answer. Range and watch answers go on into
 * discovery: every value parsed as a node, the list updated (no key twice,
 * the list sorted), and a round of weighted picks taken. Base64 decodes
 * must re-encode, endpoint lists and addresses must split into bounded
 * strings.
 */
#include "fuzz.h"
#include "client/discovery.h"
#include "common/buf.h"
#include "common/etcdapi.h"

static void etcd_kvs(const gmq_etcdapi_kv_t *kvs, size_t n, int replace);
static void etcd_b64(const char *p, size_t n);
static void etcd_text(const char *s);
static void etcd_err_ok(const char *err, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *) data + 1;
    size_t n = size - 1;
    char err[256];
    memset(err, 'x', sizeof(err));
    gmq_etcdapi_kv_t *kvs = NULL;
    size_t nkv = 0;
    int64_t a = 0, b = 0;
    int created = 0, rc;
    switch (data[0] % 9) {
    case 0:
        rc = gmq_etcdapi_parse_range(p, n, &kvs, &nkv, (data[0] & 0x80) ? NULL : &a, err,
                                     sizeof(err));
        etcd_err_ok(err, sizeof(err));
        if (rc == GMQ_OK)
            etcd_kvs(kvs, nkv, 1);
        else
            FUZZ_CHECK(kvs == NULL || nkv == 0);
        gmq_etcdapi_kvs_free(kvs, nkv);
        break;
    case 1:
        rc = gmq_etcdapi_parse_watch(p, n, &created, &kvs, &nkv, &a, err, sizeof(err));
        etcd_err_ok(err, sizeof(err));
        if (rc == GMQ_OK)
            etcd_kvs(kvs, nkv, 0);
        gmq_etcdapi_kvs_free(kvs, nkv);
        break;
    case 2:
        gmq_etcdapi_parse_grant(p, n, &a, &b, err, sizeof(err));
        etcd_err_ok(err, sizeof(err));
        break;
    case 3:
        gmq_etcdapi_parse_ttl(p, n, &a, err, sizeof(err));
        etcd_err_ok(err, sizeof(err));
        break;
    case 4:
        gmq_etcdapi_parse_timetolive(p, n, &a, &b, err, sizeof(err));
        etcd_err_ok(err, sizeof(err));
        break;
    case 5:
        gmq_etcdapi_parse_ok(p, n, err, sizeof(err));
        etcd_err_ok(err, sizeof(err));
        break;
    case 6:
        etcd_b64(p, n);
        break;
    case 7: {
        char *s = strndup(p, n);
        etcd_text(s);
        free(s);
        break;
    }
    default: {
        /* a node value under a key taken from the front of the input */
        fuzz_in_t in = { (const uint8_t *) p, n };
        size_t klen;
        const uint8_t *k = fuzz_bytes(&in, fuzz_u8(&in) % 120, &klen);
        char *key = strndup((const char *) k, klen);
        gmq_discovery_node_t node;
        if (gmq_discovery_node_parse((data[0] & 0x80) ? NULL : key, (const char *) in.p, in.n,
                                     &node) == GMQ_OK) {
            FUZZ_CHECK(node.node_id[0] != '\0' && node.weight >= 1);
            FUZZ_CHECK(node.tcp_addr[0] != '\0' || node.http_addr[0] != '\0');
            FUZZ_CHECK(gmq_discovery_swrr(&node, 1) == 0);
        }
        free(key);
        break;
    }
    }
    return 0;
}

/* an error text, when set, is a NUL-terminated string inside its buffer */
static void
etcd_err_ok(const char *err, size_t len)
{
    if (err[0] != 'x')
        FUZZ_CHECK(memchr(err, '\0', len) != NULL);
}

static void
etcd_kvs(const gmq_etcdapi_kv_t *kvs, size_t n, int replace)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(kvs[i].key != NULL);
        if (kvs[i].value != NULL)
            FUZZ_CHECK(strlen(kvs[i].value) <= kvs[i].value_len);
    }
    /* applied twice: the second time nothing changes */
    gmq_discovery_node_t *nodes = NULL;
    size_t cnt = 0;
    gmq_discovery_apply(&nodes, &cnt, kvs, n, replace);
    FUZZ_CHECK((cnt == 0) == (nodes == NULL));
    FUZZ_CHECK(cnt <= n);
    for (size_t i = 0; i < cnt; i++) {
        FUZZ_CHECK(nodes[i].weight >= 1 && nodes[i].node_id[0] != '\0');
        for (size_t j = i + 1; j < cnt; j++)
            FUZZ_CHECK(strcmp(nodes[i].key, nodes[j].key) != 0);
    }
    /* the smooth weighted round-robin: over one full cycle of total weight
     * picks, each node is picked exactly its weight times */
    if (cnt > 0) {
        long total = 0;
        for (size_t i = 0; i < cnt; i++)
            total += nodes[i].weight;
        if (total <= 4096) {
            long *picks = calloc(cnt, sizeof(*picks));
            for (long k = 0; k < total; k++) {
                int at = gmq_discovery_swrr(nodes, cnt);
                FUZZ_CHECK(at >= 0 && (size_t) at < cnt);
                picks[at]++;
            }
            for (size_t i = 0; i < cnt; i++)
                FUZZ_CHECK(picks[i] == nodes[i].weight);
            free(picks);
        } else {
            for (int k = 0; k < 64; k++)
                FUZZ_CHECK(gmq_discovery_swrr(nodes, cnt) >= 0);
        }
    }
    /* (etcd never lists a key twice; a made-up answer may, and then the
     * second apply legitimately changes the node back and forth) */
    int unique = 1;
    for (size_t i = 0; i < n && unique; i++)
        for (size_t j = i + 1; j < n && unique; j++)
            unique = strcmp(kvs[i].key, kvs[j].key) != 0;
    size_t before = cnt;
    int changed = gmq_discovery_apply(&nodes, &cnt, kvs, n, replace);
    if (replace && unique)
        FUZZ_CHECK(changed == 0 && cnt == before);
    free(nodes);
}

static void
etcd_b64(const char *p, size_t n)
{
    size_t len;
    char *dec = gmq_etcdapi_b64_decode(p, n, &len);
    if (dec != NULL) {
        FUZZ_CHECK(len <= n / 4 * 3 && dec[len] == '\0');
        /* canonical input (zero bits after the data) encodes back the same */
        char *enc = gmq_etcdapi_b64_encode(dec, len);
        size_t elen = strlen(enc);
        FUZZ_CHECK(elen == n);
        size_t back_len;
        char *back = gmq_etcdapi_b64_decode(enc, elen, &back_len);
        FUZZ_CHECK(back != NULL && back_len == len && memcmp(back, dec, len) == 0);
        free(back);
        free(enc);
        free(dec);
    }
    /* any bytes survive encode + decode */
    char *enc = gmq_etcdapi_b64_encode(p, n);
    size_t elen = strlen(enc);
    FUZZ_CHECK(elen == 4 * ((n + 2) / 3));
    char *back = gmq_etcdapi_b64_decode(enc, elen, &len);
    FUZZ_CHECK(back != NULL && len == n && memcmp(back, p, n) == 0);
    free(back);
    free(enc);
}

/* endpoint lists, host:port splits, wildcard hosts, prefix ends */
static void
etcd_text(const char *s)
{
    gmq_etcdapi_endpoints_t ep;
    char err[256];
    if (gmq_etcdapi_endpoints_parse(s, &ep, err, sizeof(err)) == GMQ_OK) {
        FUZZ_CHECK(ep.n >= 1);
        for (size_t i = 0; i < ep.n; i++) {
            size_t l = strlen(ep.urls[i]);
            FUZZ_CHECK(strncmp(ep.urls[i], "http://", 7) == 0 ||
                       strncmp(ep.urls[i], "https://", 8) == 0);
            FUZZ_CHECK(l > 0 && ep.urls[i][l - 1] != '/');
        }
    }
    gmq_etcdapi_endpoints_free(&ep);
    char host[256], port[16];
    if (gmq_etcdapi_addr_split(s, host, sizeof(host), port, sizeof(port)) == GMQ_OK) {
        FUZZ_CHECK(memchr(host, '\0', sizeof(host)) != NULL && memchr(port, '\0', sizeof(port)) != NULL);
        gmq_etcdapi_host_is_wildcard(host);
    }
    if (s[0] != '\0') {
        char *end = gmq_etcdapi_prefix_end(s);
        FUZZ_CHECK(end != NULL && strlen(end) <= strlen(s));
        free(end);
    }
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_etcdapi_body_put(&b, s, s, strlen(s), 7);
    gmq_etcdapi_body_range(&b, s, s);
    gmq_etcdapi_node_value(&b, 3, s, s, 2, s, s, s);
    gmq_buf_append(&b, "", 1);
    /* what we write for etcd parses as our own node value (printable ASCII:
     * a tcp_addr is a host:port; yajl refuses strings that are not UTF-8) */
    for (const char *q = s; *q; q++)
        if (*q < ' ' || *q > '~') {
            gmq_buf_free(&b);
            return;
        }
    gmq_buf_t v;
    gmq_buf_init(&v);
    gmq_etcdapi_node_value(&v, 3, s, "h:1", 2, "j", "st", "v");
    gmq_discovery_node_t node;
    FUZZ_CHECK(gmq_discovery_node_parse("/gmq/node-3", v.data, v.len, &node) == GMQ_OK);
    FUZZ_CHECK(strcmp(node.node_id, "3") == 0 && node.weight == 2);
    FUZZ_CHECK(strlen(s) >= sizeof(node.tcp_addr) || strcmp(node.tcp_addr, s) == 0);
    gmq_buf_free(&v);
    gmq_buf_free(&b);
}
