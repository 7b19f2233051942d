// SPDX-License-Identifier: GPL-2.0
/*
 * The running kernel's own image_load() rules (arch/arm64/kernel/kexec_image.c),
 * for the Rust side of kernel_probe: whether the CPU runs both endiannesses
 * and which translation granules it supports. The kernel's helpers are
 * static inline in <asm/cpufeature.h>, so Rust cannot call them directly.
 */
#include <linux/types.h>
#include <asm/cpufeature.h>

bool kp_system_supports_mixed_endian(void);
bool kp_system_supports_4kb_granule(void);
bool kp_system_supports_16kb_granule(void);
bool kp_system_supports_64kb_granule(void);

bool kp_system_supports_mixed_endian(void)
{
	return system_supports_mixed_endian();
}

bool kp_system_supports_4kb_granule(void)
{
	return system_supports_4kb_granule();
}

bool kp_system_supports_16kb_granule(void)
{
	return system_supports_16kb_granule();
}

bool kp_system_supports_64kb_granule(void)
{
	return system_supports_64kb_granule();
}
