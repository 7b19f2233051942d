// SPDX-License-Identifier: GPL-2.0
/*
 * The C glue of kernel_probe: kernel helpers that are static inline or
 * macros, which Rust cannot call directly.
 *  - the running kernel's own image_load() rules (arch/arm64/kernel/kexec_image.c):
 *    whether the CPU runs both endiannesses, which translation granules it
 *    supports (<asm/cpufeature.h>);
 *  - cond_resched(), between the steps of a long write;
 *  - the kexec_file decompressor's registration (below).
 */
#include <linux/errno.h>
#include <linux/kexec.h>
#include <linux/module.h>
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

/*
 * The kexec_file decompressor (qemu/patches/0001-kexec_file-let-a-module-
 * decompress-the-kernel-image.patch): kp_kexec_decompress() is the Rust
 * callback; THIS_MODULE as owner pins the module while the kernel calls it.
 * Built against a kernel without the patch, registration answers
 * -EOPNOTSUPP and /dev/kernel-probe works alone.
 */
int kp_kexec_decompress(const void *buf, unsigned long len, void **out,
			unsigned long *out_len);
int kp_kexec_hook_register(void);
void kp_kexec_hook_unregister(void);

#if defined(KP_HAVE_KEXEC_DECOMPRESSOR) && IS_ENABLED(CONFIG_KEXEC_FILE)
static const struct kexec_file_decompressor kp_decompressor = {
	.decompress = kp_kexec_decompress,
	.owner = THIS_MODULE,
};

int kp_kexec_hook_register(void)
{
	return kexec_file_register_decompressor(&kp_decompressor);
}

void kp_kexec_hook_unregister(void)
{
	kexec_file_unregister_decompressor(&kp_decompressor);
}
#else
int kp_kexec_hook_register(void)
{
	return -EOPNOTSUPP;
}

void kp_kexec_hook_unregister(void)
{
}
#endif
