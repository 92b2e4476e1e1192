/*
 * dist_mpi.c - the communication backend over MPI (built with SLOPE_MPI;
 * dist_none.c replaces it otherwise).
 *
 * slope talks on its own duplicate of MPI_COMM_WORLD, so its collectives
 * never match a program's own messages.  Only the thread that called
 * sl_dist_init calls MPI (MPI_THREAD_FUNNELED): slope's worker threads do
 * arithmetic only.  MPI errors keep MPI's default handler, which aborts
 * the whole job: after a failed collective no rank could continue anyway.
 */
#include <mpi.h>
#include <stdlib.h>

#include "dist.h"

static MPI_Comm comm = MPI_COMM_NULL;
static int my_rank = 0, n_ranks = 1, started_mpi = 0;

/* Elements per MPI call: counts are int. */
#define CHUNK ((int64_t)1 << 30)

int sl_dist_available(void) { return 1; }

static sl_status mpi_failed(int rc, const char *what, sl_error *err)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return sl_error_set(err, SL_ERR_IO, "%s failed: %s", what, text);
}

/* 1 when a launcher (mpirun/mpiexec of Open MPI, MPICH or Intel MPI, or a PMIx/PMI
 * launcher such as srun) started this process: its environment says so. */
static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

sl_status sl_dist_init(int *argc, char ***argv, sl_error *err)
{
    if (comm != MPI_COMM_NULL)
        return SL_OK;
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized)
        return sl_error_set(err, SL_ERR_STATE, "sl_dist_init: MPI is already finalized");
    /* Started without a launcher: one process, and no MPI start-up (a singleton
     * MPI_Init costs about a second). */
    if (!initialized && !launched())
        return SL_OK;
    if (!initialized) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return sl_error_set(err, SL_ERR_UNSUPPORTED, "MPI_Init_thread failed");
        started_mpi = 1;
    }
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    if (rc != MPI_SUCCESS)
        return mpi_failed(rc, "MPI_Comm_dup", err);
    MPI_Comm_rank(comm, &my_rank);
    MPI_Comm_size(comm, &n_ranks);
    return SL_OK;
}

void sl_dist_finalize(void)
{
    if (comm != MPI_COMM_NULL)
        MPI_Comm_free(&comm);
    comm = MPI_COMM_NULL;
    my_rank = 0;
    n_ranks = 1;
    if (started_mpi) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized)
            MPI_Finalize();
        started_mpi = 0;
    }
}

int sl_dist_rank(void) { return my_rank; }
int sl_dist_size(void) { return n_ranks; }

static sl_status sum(void *buf, int64_t n, MPI_Datatype type, size_t elem, sl_error *err)
{
    if (n_ranks <= 1 || n <= 0)
        return SL_OK;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int count = (int)(n - off < CHUNK ? n - off : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * elem, count, type,
                               MPI_SUM, comm);
        if (rc != MPI_SUCCESS)
            return mpi_failed(rc, "MPI_Allreduce", err);
    }
    return SL_OK;
}

sl_status sl_dist_sum_f32(float *buf, int64_t n, sl_error *err)
{
    return sum(buf, n, MPI_FLOAT, sizeof *buf, err);
}

sl_status sl_dist_sum_f64(double *buf, int64_t n, sl_error *err)
{
    return sum(buf, n, MPI_DOUBLE, sizeof *buf, err);
}

sl_status sl_dist_sum_i64(int64_t *buf, int64_t n, sl_error *err)
{
    return sum(buf, n, MPI_INT64_T, sizeof *buf, err);
}

sl_status sl_dist_min_int(int *v, sl_error *err)
{
    if (n_ranks <= 1)
        return SL_OK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT, MPI_MIN, comm);
    return rc == MPI_SUCCESS ? SL_OK : mpi_failed(rc, "MPI_Allreduce", err);
}

sl_status sl_dist_bcast(void *buf, size_t bytes, int root, sl_error *err)
{
    if (n_ranks <= 1)
        return SL_OK;
    for (size_t off = 0; off < bytes; off += (size_t)CHUNK) {
        int count = (int)(bytes - off < (size_t)CHUNK ? bytes - off : (size_t)CHUNK);
        int rc = MPI_Bcast((char *)buf + off, count, MPI_BYTE, root, comm);
        if (rc != MPI_SUCCESS)
            return mpi_failed(rc, "MPI_Bcast", err);
    }
    return SL_OK;
}
