// A WASI command for the differential tests of services/wasm/fuel, in C
// for clang --target=wasm32-wasi: it reads "sort N", "hash N", "mem N" or
// "exit N" from stdin and prints a deterministic report. Built by
// build.sh; see README.md.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9e3779b97f4a7c15u;

static uint64_t next(void) {
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

// A struct returned by value: two results under the multi-value ABI
// (-Xclang -target-abi -Xclang experimental-mv).
struct wide {
	uint64_t lo, hi;
};

__attribute__((noinline)) static struct wide mul64(uint64_t a, uint64_t b) {
	// By 32-bit halves: unsigned __int128 would call compiler-rt's
	// __multi3, built for the default ABI.
	uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
	uint64_t m0 = a0 * b0, m1 = a1 * b0, m2 = a0 * b1, m3 = a1 * b1;
	uint64_t mid = (m0 >> 32) + (uint32_t)m1 + (uint32_t)m2;
	return (struct wide){(mid << 32) | (uint32_t)m0, m3 + (m1 >> 32) + (m2 >> 32) + (mid >> 32)};
}

// Narrowing then widening a value in a register: i64.extend8_s,
// extend16_s and extend32_s with -msign-ext, shifts without it.
__attribute__((noinline)) static int64_t sign_extend(int64_t v) {
	return (int8_t)v ^ ((int64_t)(int16_t)v << 8) ^ ((int64_t)(int32_t)v << 16);
}

struct rec {
	int8_t small;
	int16_t mid;
	float score;
	uint32_t key;
	char name[12];
};

static int bykey(const void *a, const void *b) {
	const struct rec *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return memcmp(x->name, y->name, sizeof x->name);
}

// Sorting records with qsort, then a hand-written insertion sort on
// signed bytes and halfwords (sign extension).
static void sort(unsigned n) {
	struct rec *r = calloc(n, sizeof *r);
	int64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = next();
		r[i].key = (uint32_t)(v % 1000);
		r[i].small = (int8_t)v;
		r[i].mid = (int16_t)(v >> 8);
		r[i].score = (float)(int32_t)(v >> 32) / 1024.0f;
		snprintf(r[i].name, sizeof r[i].name, "m%u", (unsigned)(v >> 40) % 100000);
	}
	qsort(r, n, sizeof *r, bykey);
	for (unsigned i = 1; i < n; i++) {
		struct rec t = r[i];
		unsigned j = i;
		for (; j > 0 && r[j - 1].key == t.key && r[j - 1].small > t.small; j--)
			r[j] = r[j - 1];
		r[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		sum += (int64_t)r[i].small * r[i].mid + (int64_t)r[i].score;
		sum ^= sign_extend(sum) + (int32_t)sign_extend(sum >> 8);
	}
	printf("sorted %u: first %u %s, last %u %s, sum %lld\n", n, r[0].key, r[0].name,
	       r[n - 1].key, r[n - 1].name, (long long)sum);
	free(r);
}

// FNV-1a over n KiB and a open-addressing hash table of 64-bit keys.
static void hash(unsigned n) {
	size_t len = (size_t)n << 10;
	unsigned char *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)next();
	uint64_t h = 0xcbf29ce484222325u;
	uint64_t mix = 0;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ buf[i]) * 0x100000001b3u;
		struct wide w = mul64(h, mix | 1);
		mix ^= w.lo + w.hi;
	}
	enum { slots = 1 << 12 };
	uint64_t *table = calloc(slots, sizeof *table);
	unsigned used = 0, probes = 0;
	for (size_t i = 0; i + 8 <= len && used < slots / 2; i += 8) {
		uint64_t k;
		memcpy(&k, buf + i, sizeof k);
		k |= 1;
		for (size_t s = k & (slots - 1);; s = (s + 1) & (slots - 1), probes++) {
			if (table[s] == k)
				break;
			if (table[s] == 0) {
				table[s] = k;
				used++;
				break;
			}
		}
	}
	double load = (double)used / slots;
	printf("fnv %016llx, mix %016llx, %u keys, %u probes, load %d%%\n", (unsigned long long)h, (unsigned long long)mix, used, probes,
	       (int)(load * 100.0));
	free(table);
	free(buf);
}

// memcpy, memmove and memset over growing blocks: memory.copy and
// memory.fill with bulk memory, and memory.grow through malloc.
static void mem(unsigned n) {
	size_t len = (size_t)n << 12;
	unsigned char *a = malloc(len), *b = malloc(len);
	memset(a, 0x5a, len);
	for (size_t i = 0; i < len; i += 97)
		a[i] = (unsigned char)i;
	uint32_t sum = 0;
	for (size_t k = 1; k <= len; k = k * 3 + 1) {
		memcpy(b, a, k);
		memmove(b + 1, b, k - 1);
		memset(b + k / 2, (int)k, k - k / 2);
		for (size_t i = 0; i < k; i += 61)
			sum = sum * 31 + b[i];
	}
	unsigned char *c = realloc(b, len * 4);
	memset(c + len, 0, len * 3);
	printf("mem %zu bytes, checksum %08x, tail %d\n", len, sum, c[len * 4 - 1]);
	free(c);
	free(a);
}

int main(void) {
	char mode[16] = "sort";
	unsigned n = 100;
	if (scanf("%15s %u", mode, &n) < 1)
		return 2;
	if (strcmp(mode, "sort") == 0 && n > 0)
		sort(n);
	else if (strcmp(mode, "hash") == 0)
		hash(n);
	else if (strcmp(mode, "mem") == 0)
		mem(n);
	else if (strcmp(mode, "exit") == 0) {
		printf("exiting with %u\n", n);
		return (int)n;
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
