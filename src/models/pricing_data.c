/* pricing_data.c — the built-in pricing table: data/pricing.json, embedded at build time.
 *
 * The assembler includes the file's bytes in .rodata, followed by a NUL so that the table is a
 * C string, and a size symbol with its length (without the NUL). The path is relative to the
 * repository root, where make runs the compiler. The compiler's dependency output does not see
 * .incbin, so the Makefile lists data/pricing.json as a prerequisite of this object: editing the
 * table rebuilds it. pricing.c is the only reader (pricing_lookup with no file). */
#include <stddef.h>

/* pricing.c declares them: extern const char pricing_builtin_json[]; extern const size_t
 * pricing_builtin_json_size; (the .quad below is a 64-bit size_t) */
_Static_assert(sizeof(size_t) == 8, "pricing_builtin_json_size is emitted as a .quad");

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl pricing_builtin_json\n"
        ".hidden pricing_builtin_json\n"
        ".type pricing_builtin_json, @object\n"
        "pricing_builtin_json:\n"
        ".incbin \"data/pricing.json\"\n"
        "pricing_builtin_json_end:\n"
        ".byte 0\n"
        ".size pricing_builtin_json, . - pricing_builtin_json\n"
        ".balign 8\n"
        ".globl pricing_builtin_json_size\n"
        ".hidden pricing_builtin_json_size\n"
        ".type pricing_builtin_json_size, @object\n"
        "pricing_builtin_json_size:\n"
        ".quad pricing_builtin_json_end - pricing_builtin_json\n"
        ".size pricing_builtin_json_size, 8\n"
        ".previous\n");
