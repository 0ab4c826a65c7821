/* hashembed.h — builtin:hash, a weight-free lexical embedder.
 *
 * A text becomes a vector of fixed dimension by feature hashing: its words (lower-cased,
 * Unicode letters and digits) and word bigrams, and the character n-grams (3 to 5, with word
 * boundaries marked) of each word, each hashed to a signed bucket; weights are sublinear term
 * frequency (1 + log tf), feature families scaled so that words count most, and the vector is
 * L2-normalised. Texts sharing words and word pieces come out close; it knows nothing of
 * meaning (synonyms, paraphrase): it is lexical, a default that needs no model, not a
 * substitute for a real embedding model. */
#ifndef LK_HASHEMBED_H
#define LK_HASHEMBED_H

#include <stddef.h>

#define HASHEMBED_DEFAULT_DIM 384

/* Embed text[len] into out[dim] (L2-normalised; all zero for a text with no word). */
void hashembed(const char *text, size_t len, float *out, size_t dim);

#endif
