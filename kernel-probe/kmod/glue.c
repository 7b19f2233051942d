// SPDX-License-Identifier: GPL-2.0
/*
 * The C glue of kernel_probe: kernel helpers that are static inline or
 * macros, which Rust cannot call directly.
 *  - the running kernel's own image_load() rules (arch/arm64/kernel/kexec_image.c):
 *    whether the CPU runs both endiannesses, which translation granules it
 *    supports (<asm/cpufeature.h>);
 *  - cond_resched(), between the steps of a long write.
 */
#include <linux/types.h>
#include <linux/sched.h>
#include <asm/cpufeature.h>

bool kp_system_supports_mixed_endian(void);
bool kp_system_supports_4kb_granule(void);
bool kp_system_supports_16kb_granule(void);
bool kp_system_supports_64kb_granule(void);
void kp_cond_resched(void);

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

void kp_cond_resched(void)
{
	cond_resched();
}
