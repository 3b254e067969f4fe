/* Inner loop of upper_matmat (_symmetric.pyx): one panel of 8 columns over rows [row_start, row_stop)
 * of an upper-triangle CSR matrix U:  out[i,:] += U_ij x[j,:]  and, for j != i,  out[j,:] += U_ij x[i,:].
 * Rows of x and out are `stride` doubles apart; the panel is x[., 0:8], out[., 0:8].
 * GCC/Clang vector extensions make the 8-wide updates SIMD on any x86-64/ARM baseline; other compilers
 * get the plain loops. */
#include <stdint.h>
#include <string.h>

#define QWEM_PANEL 8
#define QWEM_WIDE_PANEL 16   /* the target kernels' wider panel */

#if defined(__GNUC__)
/* may_alias: rows of double arrays are read and written through this type (as SSE2's own __m128d allows) */
typedef double qwem_v2d __attribute__((vector_size(16), aligned(8), may_alias));

static inline void qwem_panel_rows(const int64_t *indptr, const int32_t *indices, const double *data,
                                   const double *x, double *out, int64_t stride,
                                   int64_t row_start, int64_t row_stop)
{
    for (int64_t i = row_start; i < row_stop; i++) {
        const qwem_v2d *xi = (const qwem_v2d *)(x + i * stride);
        qwem_v2d xi0 = xi[0], xi1 = xi[1], xi2 = xi[2], xi3 = xi[3];
        qwem_v2d a0 = {0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            double u = data[p];
            qwem_v2d uu = {u, u};
            const qwem_v2d *xj = (const qwem_v2d *)(x + j * stride);
            a0 += uu * xj[0]; a1 += uu * xj[1]; a2 += uu * xj[2]; a3 += uu * xj[3];
            if (j != i) {
                qwem_v2d *oj = (qwem_v2d *)(out + j * stride);
                oj[0] += uu * xi0; oj[1] += uu * xi1; oj[2] += uu * xi2; oj[3] += uu * xi3;
            }
        }
        qwem_v2d *oi = (qwem_v2d *)(out + i * stride);
        oi[0] += a0; oi[1] += a1; oi[2] += a2; oi[3] += a3;
    }
}
#else
static inline void qwem_panel_rows(const int64_t *indptr, const int32_t *indices, const double *data,
                                   const double *x, double *out, int64_t stride,
                                   int64_t row_start, int64_t row_stop)
{
    for (int64_t i = row_start; i < row_stop; i++) {
        double acc[QWEM_PANEL] = {0.0};
        const double *xi = x + i * stride;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            double u = data[p];
            const double *xj = x + j * stride;
            for (int c = 0; c < QWEM_PANEL; c++) acc[c] += u * xj[c];
            if (j != i) {
                double *oj = out + j * stride;
                for (int c = 0; c < QWEM_PANEL; c++) oj[c] += u * xi[c];
            }
        }
        for (int c = 0; c < QWEM_PANEL; c++) out[i * stride + c] += acc[c];
    }
}
#endif

/* As qwem_panel_rows, for U = the upper triangle of S = 4 A / (A + B) computed on the fly from the upper
 * triangle of A (values `a`, float or double: the _f and _d versions), with B_ij = half_k (r_i q_j + r_j q_i):
 * `rq` holds (r_j, q_j) (pair rate, noise) interleaved, so one cache line serves both. S is never stored. */
static inline double qwem_target_entry(double a, double half_k, double ri, double qi, const double *rq_j)
{
    return 4.0 * a / (a + half_k * (ri * rq_j[1] + rq_j[0] * qi));   /* S_ij = 4 A_ij / (A_ij + B_ij) */
}


/* qwem_panel_rows_target_tiled_<W><f|d>: as qwem_panel_rows, for U = the upper triangle of S computed entry
 * by entry (qwem_target_entry), over a panel of W = 8 or 16 columns, with the columns j cut into tiles of
 * `tile` rows of x and out: every row's entries in one tile, then the next tile. The gathers x[j,:] and
 * scatters out[j,:] of a tile stay within 2 x tile x 8W bytes instead of jumping over all n rows; rows i move
 * on through `cursor` (one int64 per row of the range, the caller's scratch), their next entry at or past the
 * tile. A row's sum is added up per tile (tile >= n: one pass, qwem_panel_rows's order).
 * The W-wide updates are plain loops the compiler turns into SIMD; on x86-64 with GCC each kernel is also
 * built for AVX2 and AVX-512 and the best one the CPU has is picked when the module loads (target_clones),
 * which the baseline SSE2 build cannot use: 4-8 doubles an instruction instead of 2. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define QWEM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QWEM_CLONES
#endif
#if defined(__GNUC__)
/* 8 doubles or 8 floats; GCC/Clang lower the operations to what the target has (2-16 wide) */
typedef double qwem_v8d __attribute__((vector_size(64), aligned(8), may_alias));
typedef float qwem_v8f __attribute__((vector_size(32), aligned(4), may_alias));
/* acc starts from (VT){0}, every element 0 (a product with 0.0 would keep NaN and inf) */
#define QWEM_TARGET_ROW_START(W, XT, VT)                                                                    \
            VT xi[W / 8], acc[W / 8];                                                                       \
            for (int c = 0; c < W / 8; c++) { xi[c] = ((const VT *)(x + i * stride))[c]; acc[c] = (VT){0}; }
#define QWEM_TARGET_ENTRY(W, XT, VT)                                                                        \
                const VT *xj = (const VT *)(x + j * stride);                                                \
                for (int c = 0; c < W / 8; c++) acc[c] += u * xj[c];                                        \
                if (j != i) {                                                                               \
                    VT *oj = (VT *)(out + j * stride);                                                      \
                    for (int c = 0; c < W / 8; c++) oj[c] += u * xi[c];                                     \
                }
#define QWEM_TARGET_ROW_END(W, XT, VT)                                                                      \
            for (int c = 0; c < W / 8; c++) ((VT *)(out + i * stride))[c] += acc[c];
#else
#define QWEM_TARGET_ROW_START(W, XT, VT)                                                                    \
            XT xi[W], acc[W];                                                                               \
            for (int c = 0; c < W; c++) { xi[c] = x[i * stride + c]; acc[c] = 0; }
#define QWEM_TARGET_ENTRY(W, XT, VT)                                                                        \
                const XT *xj = x + j * stride;                                                              \
                for (int c = 0; c < W; c++) acc[c] += u * xj[c];                                            \
                if (j != i) {                                                                               \
                    XT *oj = out + j * stride;                                                              \
                    for (int c = 0; c < W; c++) oj[c] += u * xi[c];                                         \
                }
#define QWEM_TARGET_ROW_END(W, XT, VT)                                                                      \
            for (int c = 0; c < W; c++) out[i * stride + c] += acc[c];
#endif
/* REAL: A's values; XT: x and out (double, or float: half the bytes gathered and scattered per entry, S_ij
 * rounded to float and the sums kept in float, for an eigensolve whose basis is float anyway); VT: 8 XT */
#define QWEM_PANEL_TARGET_TILED(NAME, REAL, XT, VT, W)                                                       \
QWEM_CLONES void NAME(const int64_t *indptr, const int32_t *indices, const REAL *a, const double *rq,         \
                      double half_k, const XT *x, XT *out, int64_t stride, int64_t row_start,                \
                      int64_t row_stop, int64_t n, int64_t tile, int64_t *cursor)                            \
{                                                                                                           \
    for (int64_t i = row_start; i < row_stop; i++) cursor[i - row_start] = indptr[i];                       \
    for (int64_t lo = row_start; lo < n; lo += tile) {        /* j >= i >= row_start */                     \
        const int64_t hi = lo + tile < n ? lo + tile : n;                                                   \
        const int64_t last_row = row_stop < hi ? row_stop : hi;     /* rows i <= j < hi */                  \
        for (int64_t i = row_start; i < last_row; i++) {                                                    \
            int64_t p = cursor[i - row_start];                                                              \
            const int64_t end = indptr[i + 1];                                                              \
            if (p == end || indices[p] >= hi) continue;                                                     \
            const double ri = rq[2 * i], qi = rq[2 * i + 1];                                                \
            QWEM_TARGET_ROW_START(W, XT, VT)                                                                \
            for (; p < end && indices[p] < hi; p++) {                                                       \
                const int64_t j = indices[p];                                                               \
                const XT u = (XT)qwem_target_entry((double)a[p], half_k, ri, qi, rq + 2 * j);               \
                QWEM_TARGET_ENTRY(W, XT, VT)                                                                \
            }                                                                                               \
            cursor[i - row_start] = p;                                                                      \
            QWEM_TARGET_ROW_END(W, XT, VT)                                                                  \
        }                                                                                                   \
    }                                                                                                       \
}
/* qwem_panel_rows_target_tiled_<W><A's type><x's type>, f = float, d = double */
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_8fd, float, double, qwem_v8d, 8)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_8dd, double, double, qwem_v8d, 8)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_16fd, float, double, qwem_v8d, QWEM_WIDE_PANEL)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_16dd, double, double, qwem_v8d, QWEM_WIDE_PANEL)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_8ff, float, float, qwem_v8f, 8)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_8df, double, float, qwem_v8f, 8)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_16ff, float, float, qwem_v8f, QWEM_WIDE_PANEL)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_16df, double, float, qwem_v8f, QWEM_WIDE_PANEL)
/* the kernel for `width` (QWEM_WIDE_PANEL, else QWEM_PANEL) columns, A's values float (a_float) or double, x and
 * out float (x_float) or double */
static inline void qwem_panel_rows_target_tiled(int a_float, int x_float, int64_t width, const int64_t *indptr,
                                                const int32_t *indices, const void *a, const double *rq,
                                                double half_k, const void *x, void *out, int64_t stride,
                                                int64_t row_start, int64_t row_stop, int64_t n, int64_t tile,
                                                int64_t *cursor)
{
    const int wide = width == QWEM_WIDE_PANEL;
#define QWEM_CALL(KERNEL, REAL, XT)                                                                          \
    KERNEL(indptr, indices, (const REAL *)a, rq, half_k, (const XT *)x, (XT *)out, stride, row_start,       \
           row_stop, n, tile, cursor)
    if (a_float && x_float)
        wide ? QWEM_CALL(qwem_panel_rows_target_tiled_16ff, float, float)
             : QWEM_CALL(qwem_panel_rows_target_tiled_8ff, float, float);
    else if (a_float)
        wide ? QWEM_CALL(qwem_panel_rows_target_tiled_16fd, float, double)
             : QWEM_CALL(qwem_panel_rows_target_tiled_8fd, float, double);
    else if (x_float)
        wide ? QWEM_CALL(qwem_panel_rows_target_tiled_16df, double, float)
             : QWEM_CALL(qwem_panel_rows_target_tiled_8df, double, float);
    else
        wide ? QWEM_CALL(qwem_panel_rows_target_tiled_16dd, double, double)
             : QWEM_CALL(qwem_panel_rows_target_tiled_8dd, double, double);
#undef QWEM_CALL
}
