/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Our own declarations of the few NVML types and functions gpuhoursd uses
 * (NVML API 12/13 ABI, LP64). nvml.h is not used: its licence is restrictive
 * and the library is loaded with dlopen at run time. Layouts and values are
 * those of NVML's documented API (the NVML API Reference and nvml.h of
 * CUDA 12 and 13); the test double in tests/nvml/ implements the same
 * declarations.
 */

#include <stdint.h>

typedef int nvmlReturn_t; /* a 4-byte enum in nvml.h */

enum {
        NVML_SUCCESS = 0,
        NVML_ERROR_UNINITIALIZED = 1,
        NVML_ERROR_INVALID_ARGUMENT = 2,
        NVML_ERROR_NOT_SUPPORTED = 3,
        NVML_ERROR_NO_PERMISSION = 4,
        NVML_ERROR_ALREADY_INITIALIZED = 5,
        NVML_ERROR_NOT_FOUND = 6,
        NVML_ERROR_INSUFFICIENT_SIZE = 7,
        NVML_ERROR_DRIVER_NOT_LOADED = 9,
        NVML_ERROR_TIMEOUT = 10,
        NVML_ERROR_FUNCTION_NOT_FOUND = 13,
        NVML_ERROR_GPU_IS_LOST = 15,
        NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
        NVML_ERROR_NO_DATA = 21,
        NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
        NVML_ERROR_UNKNOWN = 999,
};

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

#define NVML_INIT_FLAG_NO_GPUS 1u
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80u
#define NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE 80u
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96u
#define NVML_DEVICE_SERIAL_BUFFER_SIZE 30u
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96u
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32u

typedef struct {
        unsigned gpu;    /* percent */
        unsigned memory; /* percent */
} nvmlUtilization_t;     /* 8 B */

typedef struct {
        unsigned long long total, free, used; /* bytes */
} nvmlMemory_t;                               /* 24 B */

typedef struct {
        char busIdLegacy[16];
        unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
        char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t; /* 68 B */

typedef union {
        double dVal;
        unsigned uiVal;
        unsigned long ulVal;
        unsigned long long ullVal;
        signed long long sllVal;
        signed int siVal;
        unsigned short usVal;
} nvmlValue_t; /* 8 B */

typedef enum {
        NVML_VALUE_TYPE_DOUBLE = 0,
        NVML_VALUE_TYPE_UNSIGNED_INT = 1,
        NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
        NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
        NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
        NVML_VALUE_TYPE_SIGNED_INT = 5,
        NVML_VALUE_TYPE_UNSIGNED_SHORT = 6,
} nvmlValueType_t;

typedef struct {
        unsigned long long timeStamp; /* µs */
        nvmlValue_t sampleValue;
} nvmlSample_t; /* 16 B */

typedef enum {
        NVML_TOTAL_POWER_SAMPLES = 0,
        NVML_GPU_UTILIZATION_SAMPLES = 1,
} nvmlSamplingType_t;

/*
 * One entry of …GetComputeRunningProcesses_v3: 24 B in nvml.h, but some
 * drivers (535.43–535.86, 535.104+) write 32 B per entry (an extra u64
 * usedGpuCcProtectedMemory). Callers allocate NVML_PROC_ENTRY_MAX bytes per
 * entry and detect the stride (facts §4).
 */
typedef struct {
        unsigned pid;
        unsigned long long usedGpuMemory;
        unsigned gpuInstanceId;
        unsigned computeInstanceId;
} nvmlProcessInfo_t; /* 24 B */
#define NVML_PROC_ENTRY_MIN 24u
#define NVML_PROC_ENTRY_MAX 32u

typedef struct {
        nvmlDevice_t device;
        unsigned long long eventType;
        unsigned long long eventData; /* the Xid */
        unsigned gpuInstanceId;
        unsigned computeInstanceId;
} nvmlEventData_t; /* 32 B */
#define NVML_EVENT_TYPE_XID_CRITICAL_ERROR 0x8ull

#define NVML_DEVICE_MIG_DISABLE 0u
#define NVML_DEVICE_MIG_ENABLE 1u

/* Function pointer types, one per symbol we resolve. */
typedef nvmlReturn_t (*nvml_init_fn)(void);
typedef nvmlReturn_t (*nvml_init_flags_fn)(unsigned flags);
typedef nvmlReturn_t (*nvml_shutdown_fn)(void);
typedef const char *(*nvml_error_string_fn)(nvmlReturn_t r);
typedef nvmlReturn_t (*nvml_system_string_fn)(char *buf, unsigned len);
typedef nvmlReturn_t (*nvml_get_count_fn)(unsigned *count);
typedef nvmlReturn_t (*nvml_handle_by_index_fn)(unsigned index, nvmlDevice_t *dev);
typedef nvmlReturn_t (*nvml_device_string_fn)(nvmlDevice_t dev, char *buf, unsigned len);
typedef nvmlReturn_t (*nvml_pci_info_fn)(nvmlDevice_t dev, nvmlPciInfo_t *pci);
typedef nvmlReturn_t (*nvml_utilization_fn)(nvmlDevice_t dev, nvmlUtilization_t *u);
typedef nvmlReturn_t (*nvml_samples_fn)(nvmlDevice_t dev, nvmlSamplingType_t type,
                                        unsigned long long last_seen, nvmlValueType_t *vtype,
                                        unsigned *count, nvmlSample_t *samples);
typedef nvmlReturn_t (*nvml_energy_fn)(nvmlDevice_t dev, unsigned long long *mj);
typedef nvmlReturn_t (*nvml_power_fn)(nvmlDevice_t dev, unsigned *mw);
typedef nvmlReturn_t (*nvml_memory_fn)(nvmlDevice_t dev, nvmlMemory_t *m);
typedef nvmlReturn_t (*nvml_procs_fn)(nvmlDevice_t dev, unsigned *count, void *infos);
typedef nvmlReturn_t (*nvml_architecture_fn)(nvmlDevice_t dev, unsigned *arch);
typedef nvmlReturn_t (*nvml_mig_mode_fn)(nvmlDevice_t dev, unsigned *current, unsigned *pending);
typedef nvmlReturn_t (*nvml_event_set_create_fn)(nvmlEventSet_t *set);
typedef nvmlReturn_t (*nvml_register_events_fn)(nvmlDevice_t dev, unsigned long long types,
                                                nvmlEventSet_t set);
typedef nvmlReturn_t (*nvml_event_set_wait_fn)(nvmlEventSet_t set, nvmlEventData_t *data,
                                               unsigned timeout_ms);
typedef nvmlReturn_t (*nvml_event_set_free_fn)(nvmlEventSet_t set);
