/*
 * probe-run's purgatory for kexec_load(2) on arm64.
 *
 * The kernel enters it with the MMU and D-cache off (cpu_soft_restart() ->
 * arm64_relocate_new_kernel, arch/arm64/kernel/relocate_kernel.S) at
 * kimage->start. For a kexec_load image the kernel passes x0 = 0
 * (kimage->arch.dtb_mem is set only by kexec_file_load), so the purgatory
 * sets what Documentation/arch/arm64/booting.rst wants at the kernel's entry:
 * x0 = physical address of the device tree, x1 = x2 = x3 = 0, and branches to
 * the kernel, as kexec-tools' purgatory/arch/arm64/entry.S does (without its
 * SHA-256 check of the segments and console output).
 *
 * probe-run writes the two 8-byte slots before the segment is loaded.
 * gen-purgatory.sh assembles this file and writes ../src/purgatory_blob.rs.
 */
	.text
	.globl	purgatory_start
purgatory_start:
	ldr	x17, kernel_entry	/* PC-relative literal: position independent */
	ldr	x0, dtb_addr
	mov	x1, xzr
	mov	x2, xzr
	mov	x3, xzr
	br	x17

	.balign	8
kernel_entry:
	.quad	0
dtb_addr:
	.quad	0
purgatory_end:
