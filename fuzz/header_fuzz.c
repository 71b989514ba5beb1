/* libFuzzer harness: the safetensors JSON header parser and validator on raw bytes, as
 * the decoder drives them: a counting pass, a filling pass, then validation against a data
 * length taken from the first 2 bytes of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint64_t data_len = (uint64_t)data[0] | (uint64_t)data[1] << 8;
  const char *json = (const char *)data + 2;
  size_t len = size - 2;
  char err[256];
  rc_st_header h;
  memset(&h, 0, sizeof h);
  h.strings = (char *)malloc(len + 1);
  if (rc_st_parse(json, len, &h, err, sizeof err) == 0) {
    size_t nt = h.n_tensors, nm = h.n_meta;
    h.tensors = (rc_st_tensor *)malloc((nt ? nt : 1) * sizeof(rc_st_tensor));
    h.meta = (rc_st_meta *)malloc((nm ? nm : 1) * sizeof(rc_st_meta));
    if (rc_st_parse(json, len, &h, err, sizeof err) == 0 && h.n_tensors == nt && h.n_meta == nm &&
        rc_st_validate(&h, data_len, err, sizeof err) == 0) {
      unsigned char *buffer = (unsigned char *)calloc(data_len ? data_len : 1, 1);
      for (size_t i = 0; i < nt; i++) { /* every element of every tensor, as the decoder reads them */
        size_t size = (size_t)rc_st_dtype_size(h.tensors[i].dtype_name);
        size_t n = (size_t)(h.tensors[i].end - h.tensors[i].begin) / (size ? size : 1);
        for (size_t k = 0; k < n; k++) (void)rc_st_load(h.tensors[i].dtype, buffer + h.tensors[i].begin, k);
      }
      free(buffer);
    }
    free(h.tensors);
    free(h.meta);
  }
  free(h.strings);
  return 0;
}
