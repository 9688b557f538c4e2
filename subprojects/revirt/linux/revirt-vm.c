// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the VM handle and guest memory.
 *
 * A map only records (gpa, size, hva, prot).  A guest page enters the
 * second-level page tables on its first touch: the nested page fault finds
 * it through the VMM's own page tables (pin_user_pages_fast) and it stays
 * pinned while it is mapped.  Unmap and the VM's end unpin every page.
 *
 * Dirty logging write-protects a logging map's pages in the second-level
 * page tables: the first guest write to each one faults, sets its bit and
 * makes it writable again, until REVIRT_GET_DIRTY_LOG reports it and
 * protects it again.  Writes the module makes for the guest (string IN,
 * emulated instructions) set the bit after they are done.  The VMM's own
 * writes go through its page tables, which are not touched: not logged.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "revirt-arch.h"

#define REVIRT_MAX_MAPS		4096
#define REVIRT_PROT_ALL	(REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC)

/* xarray values: the pinned page, bit 0 set when it was pinned writable. */
#define REVIRT_PAGE_WRITABLE	1

static void revirt_unpin_range(struct revirt_vm *vm, u64 gfn, u64 last)
{
	unsigned long index = gfn;
	void *entry;

	xa_for_each_range(&vm->pages, index, entry, gfn, last) {
		struct page *page = xa_untag_pointer(entry);

		xa_erase(&vm->pages, index);
		unpin_user_pages_dirty_lock(&page, 1, xa_pointer_tag(entry) &
					    REVIRT_PAGE_WRITABLE);
	}
}

static unsigned long *revirt_dirty_alloc(u64 size)
{
	return kvcalloc(BITS_TO_LONGS(size >> PAGE_SHIFT),
			sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
}

static void revirt_map_free(struct revirt_map *m)
{
	kvfree(m->dirty);
	kfree(m);
}

static void revirt_vm_release(struct kref *ref)
{
	struct revirt_vm *vm = container_of(ref, struct revirt_vm, ref);
	struct revirt_map *m, *tmp;

	revirt_unpin_range(vm, 0, ULONG_MAX);
	xa_destroy(&vm->pages);
	revirt_arch->vm_free(vm);
	list_for_each_entry_safe(m, tmp, &vm->maps, node)
		revirt_map_free(m);
	mmdrop(vm->mm);
	kfree(vm);
}

void revirt_vm_put(struct revirt_vm *vm)
{
	kref_put(&vm->ref, revirt_vm_release);
}

static struct revirt_map *revirt_map_find(struct revirt_vm *vm, u64 gpa)
{
	struct revirt_map *m;

	list_for_each_entry(m, &vm->maps, node)
		if (gpa >= m->gpa && gpa - m->gpa < m->size)
			return m;
	return NULL;
}

/* The range checks MAP, UNMAP (and the dirty-log calls) share. */
static int revirt_range_check(u64 gpa, u64 size)
{
	if (!IS_ALIGNED(gpa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) ||
	    !size)
		return -EINVAL;
	if (gpa + size < gpa || gpa + size > (1ull << REVIRT_GPA_BITS))
		return -ERANGE;
	return 0;
}

static int revirt_map_count(struct revirt_vm *vm)
{
	struct revirt_map *m;
	int n = 0;

	list_for_each_entry(m, &vm->maps, node)
		n++;
	return n;
}

static int revirt_map_insert(struct revirt_vm *vm, struct revirt_map *new)
{
	struct list_head *pos = &vm->maps;
	struct revirt_map *m;

	list_for_each_entry(m, &vm->maps, node) {
		if (new->gpa < m->gpa + m->size && m->gpa < new->gpa + new->size)
			return -EEXIST;
		if (m->gpa < new->gpa)
			pos = &m->node;
	}
	if (revirt_map_count(vm) >= REVIRT_MAX_MAPS)
		return -ENOSPC;
	list_add(&new->node, pos);
	return 0;
}

static int revirt_map_memory(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_memory_map a;
	struct revirt_map *m;
	int r;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags || (a.prot & ~REVIRT_PROT_ALL) ||
	    !(a.prot & REVIRT_PROT_READ) || !IS_ALIGNED(a.hva, PAGE_SIZE))
		return -EINVAL;
	r = revirt_range_check(a.gpa, a.size);
	if (r)
		return r;
	if (a.hva + a.size < a.hva || a.hva + a.size > TASK_SIZE_MAX)
		return -EINVAL;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return -ENOMEM;
	*m = (struct revirt_map){ .gpa = a.gpa, .size = a.size,
				  .hva = a.hva, .prot = a.prot };
	mutex_lock(&vm->lock);
	r = revirt_map_insert(vm, m);
	mutex_unlock(&vm->lock);
	if (r)
		kfree(m);
	return r;
}

/* A logging map's bits of pages [from, from + n) move to bits [0, n). */
static void revirt_dirty_move(unsigned long *dst, unsigned long *src,
			      u64 from, u64 n, u64 old_n)
{
	u64 i;

	for (i = 0; i < n; i++)
		__assign_bit(i, dst, test_bit(from + i, src));
	if (dst == src && old_n > n)
		bitmap_clear(dst, n, old_n - n);
}

/*
 * Cut [gpa, end) out of the maps.  spare is the one new map a split in
 * the middle of a map needs; it is consumed (set to NULL) if used.  What
 * is left of a logging map keeps its log; if the piece a split makes
 * finds no memory for its own, both pieces stop logging and *err is
 * -ENOMEM.
 */
static bool revirt_maps_cut(struct revirt_vm *vm, u64 gpa, u64 end,
			    struct revirt_map **spare, int *err)
{
	struct revirt_map *m, *tmp;
	bool found = false;

	list_for_each_entry_safe(m, tmp, &vm->maps, node) {
		u64 m_end = m->gpa + m->size;
		u64 pages = m->size >> PAGE_SHIFT;

		if (m_end <= gpa || m->gpa >= end)
			continue;
		found = true;
		if (m->gpa < gpa && m_end > end) {
			struct revirt_map *tail = *spare;

			*tail = *m;
			tail->gpa = end;
			tail->size = m_end - end;
			tail->hva = m->hva + (end - m->gpa);
			tail->dirty = NULL;
			if (m->dirty) {
				tail->dirty = revirt_dirty_alloc(tail->size);
				if (tail->dirty) {
					revirt_dirty_move(tail->dirty, m->dirty,
						(end - m->gpa) >> PAGE_SHIFT,
						tail->size >> PAGE_SHIFT, 0);
				} else {
					kvfree(m->dirty);
					m->dirty = NULL;
					*err = -ENOMEM;
				}
			}
			list_add(&tail->node, &m->node);
			m->size = gpa - m->gpa;
			*spare = NULL;
		} else if (m->gpa < gpa) {
			m->size = gpa - m->gpa;
		} else if (m_end > end) {
			if (m->dirty)
				revirt_dirty_move(m->dirty, m->dirty,
						  (end - m->gpa) >> PAGE_SHIFT,
						  (m_end - end) >> PAGE_SHIFT,
						  pages);
			m->hva += end - m->gpa;
			m->size = m_end - end;
			m->gpa = end;
		} else {
			list_del(&m->node);
			revirt_map_free(m);
			continue;
		}
		/* A map that got shorter at its end keeps no bits past it. */
		if (m->dirty && m->gpa < gpa)
			bitmap_clear(m->dirty, m->size >> PAGE_SHIFT,
				     pages - (m->size >> PAGE_SHIFT));
	}
	return found;
}

static int revirt_unmap_memory(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_memory_unmap a;
	struct revirt_map *spare;
	int r, err = 0;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.reserved)
		return -EINVAL;
	r = revirt_range_check(a.gpa, a.size);
	if (r)
		return r;
	spare = kzalloc(sizeof(*spare), GFP_KERNEL_ACCOUNT);
	if (!spare)
		return -ENOSPC;

	mutex_lock(&vm->lock);
	if (!revirt_maps_cut(vm, a.gpa, a.gpa + a.size, &spare, &err)) {
		r = -ENOENT;
	} else {
		/* No vCPU may use a translation of a page once it is unpinned. */
		revirt_arch->npt_clear(vm, a.gpa, a.size);
		revirt_arch->npt_flush(vm);
		revirt_unpin_range(vm, a.gpa >> PAGE_SHIFT,
				   ((a.gpa + a.size) >> PAGE_SHIFT) - 1);
		r = err;
	}
	mutex_unlock(&vm->lock);
	kfree(spare);
	return r;
}

/*
 * A nested page fault at gpa: pin the VMM's page and map it.  Returns 0
 * when the guest can go on, -ENOENT for an unmapped gpa, -EACCES for an
 * access the map's prot does not allow, or the pin's error.
 */
int revirt_vm_fault(struct revirt_vm *vm, u64 gpa, bool write, bool fetch)
{
	u64 gfn = gpa >> PAGE_SHIFT;
	struct revirt_map *m;
	struct page *page;
	bool writable;
	void *entry;
	u32 prot;
	int r;

	mutex_lock(&vm->lock);
	m = revirt_map_find(vm, gpa);
	r = -ENOENT;
	if (!m)
		goto out;
	r = -EACCES;
	if ((write && !(m->prot & REVIRT_PROT_WRITE)) ||
	    (fetch && !(m->prot & REVIRT_PROT_EXEC)))
		goto out;
	writable = m->prot & REVIRT_PROT_WRITE;
	entry = xa_load(&vm->pages, gfn);
	if (entry) {
		/* Another vCPU mapped it first. */
		page = xa_untag_pointer(entry);
	} else {
		r = pin_user_pages_fast(m->hva + ((gfn << PAGE_SHIFT) - m->gpa),
					1, FOLL_LONGTERM |
					(writable ? FOLL_WRITE : 0), &page);
		if (r != 1) {
			r = r < 0 ? r : -EFAULT;
			goto out;
		}
		r = xa_err(xa_store(&vm->pages, gfn,
				    xa_tag_pointer(page, writable ?
						   REVIRT_PAGE_WRITABLE : 0),
				    GFP_KERNEL_ACCOUNT));
		if (r) {
			unpin_user_page(page);
			goto out;
		}
	}
	/*
	 * A logging map's page becomes writable when it is written (the
	 * write is about to happen), and stays so until it is reported.
	 */
	prot = m->prot;
	if (m->dirty) {
		u64 i = (gpa - m->gpa) >> PAGE_SHIFT;

		if (write)
			__set_bit(i, m->dirty);
		else if (!test_bit(i, m->dirty))
			prot &= ~REVIRT_PROT_WRITE;
	}
	r = revirt_arch->npt_set(vm, gfn << PAGE_SHIFT, page_to_pfn(page),
				 prot);
out:
	mutex_unlock(&vm->lock);
	return r;
}

/* The module wrote a page for the guest: log it, once it is written. */
static void revirt_log_write(struct revirt_vm *vm, u64 gpa)
{
	struct revirt_map *m;

	mutex_lock(&vm->lock);
	m = revirt_map_find(vm, gpa);
	if (m && m->dirty)
		__set_bit((gpa - m->gpa) >> PAGE_SHIFT, m->dirty);
	mutex_unlock(&vm->lock);
}

/*
 * Read or write guest memory for the guest (string I/O, emulated
 * instructions), through the VMM's mapping; a write is logged.  Returns
 * -ENOENT where there is no RAM (or a write to a read-only map), -EFAULT
 * if the VMM's memory is gone.
 */
int revirt_guest_rw(struct revirt_vm *vm, u64 gpa, void *buf,
		    unsigned int len, bool write)
{
	while (len) {
		unsigned int n = min_t(u64, len, PAGE_SIZE - (gpa & ~PAGE_MASK));
		struct revirt_map *m;
		void __user *hva;
		unsigned long left;

		mutex_lock(&vm->lock);
		m = revirt_map_find(vm, gpa);
		if (!m || (write && !(m->prot & REVIRT_PROT_WRITE))) {
			mutex_unlock(&vm->lock);
			return -ENOENT;
		}
		hva = (void __user *)(uintptr_t)(m->hva + (gpa - m->gpa));
		mutex_unlock(&vm->lock);
		left = write ? copy_to_user(hva, buf, n) :
			       copy_from_user(buf, hva, n);
		if (left)
			return -EFAULT;
		if (write)
			revirt_log_write(vm, gpa);
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Dirty logging.  revirt_log_cover() finds the maps that cover [gpa, end)
 * with no gap, the first in *first: -ENOENT if a page is not mapped; with
 * whole, -EXDEV if a map crosses the start or the end.
 */
static int revirt_log_cover(struct revirt_vm *vm, u64 gpa, u64 end,
			    bool whole, struct revirt_map **first)
{
	struct revirt_map *m;
	u64 next = gpa;

	*first = NULL;
	list_for_each_entry(m, &vm->maps, node) {
		if (m->gpa + m->size <= gpa)
			continue;
		if (next >= end)
			break;
		if (m->gpa > next)
			return -ENOENT;
		if (whole && (m->gpa < gpa || m->gpa + m->size > end))
			return -EXDEV;
		if (!*first)
			*first = m;
		next = m->gpa + m->size;
	}
	return next >= end ? 0 : -ENOENT;
}

/* Iterate over the maps revirt_log_cover() found, from m on. */
#define for_each_cover_map(m, vm, end) \
	list_for_each_entry_from(m, &(vm)->maps, node) \
		if ((m)->gpa >= (end)) break; else

static int revirt_log_range_args(void __user *argp, struct revirt_log_range *a)
{
	if (copy_from_user(a, argp, sizeof(*a)))
		return -EFAULT;
	if (a->flags || a->reserved)
		return -EINVAL;
	return revirt_range_check(a->gpa, a->size);
}

/*
 * REVIRT_LOG_START: each map that starts logging gets an empty log and
 * its pages write-protected, all or nothing.
 */
static int revirt_log_start(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_log_range a;
	struct revirt_map *first, *m;
	unsigned long **logs = NULL;
	unsigned int n = 0, i;
	bool protect = false;
	int r;

	r = revirt_log_range_args(argp, &a);
	if (r)
		return r;
	mutex_lock(&vm->lock);
	r = revirt_log_cover(vm, a.gpa, a.gpa + a.size, true, &first);
	if (r)
		goto out;
	m = first;
	for_each_cover_map(m, vm, a.gpa + a.size)
		n += !m->dirty;
	if (!n)
		goto out;
	r = -ENOMEM;
	logs = kcalloc(n, sizeof(*logs), GFP_KERNEL_ACCOUNT);
	if (!logs)
		goto out;
	i = 0;
	m = first;
	for_each_cover_map(m, vm, a.gpa + a.size) {
		if (m->dirty)
			continue;
		logs[i] = revirt_dirty_alloc(m->size);
		if (!logs[i++])
			goto out;
	}
	r = 0;
	i = 0;
	m = first;
	for_each_cover_map(m, vm, a.gpa + a.size) {
		if (m->dirty)
			continue;
		m->dirty = logs[i];
		logs[i++] = NULL;
		if (m->prot & REVIRT_PROT_WRITE) {
			revirt_arch->npt_protect(vm, m->gpa, m->size);
			protect = true;
		}
	}
	/* No vCPU writes a page of them unnoticed once this returns. */
	if (protect)
		revirt_arch->npt_flush(vm);
out:
	mutex_unlock(&vm->lock);
	for (i = 0; logs && i < n; i++)
		kvfree(logs[i]);
	kfree(logs);
	return r;
}

/*
 * REVIRT_LOG_STOP: the maps forget their logs.  Their pages stay
 * write-protected: the next write to each makes it writable again.
 */
static int revirt_log_stop(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_log_range a;
	struct revirt_map *m;
	int r;

	r = revirt_log_range_args(argp, &a);
	if (r)
		return r;
	mutex_lock(&vm->lock);
	r = revirt_log_cover(vm, a.gpa, a.gpa + a.size, true, &m);
	if (!r) {
		for_each_cover_map(m, vm, a.gpa + a.size) {
			kvfree(m->dirty);
			m->dirty = NULL;
		}
	}
	mutex_unlock(&vm->lock);
	return r;
}

/* The bit of m's page in the bitmap of a range that starts at gpa. */
static u64 revirt_log_bit(const struct revirt_map *m, u64 gpa, u64 page)
{
	return (m->gpa + (page << PAGE_SHIFT) - gpa) >> PAGE_SHIFT;
}

/*
 * REVIRT_GET_DIRTY_LOG.  The bitmap goes to the VMM before anything is
 * cleared, so a failed copy clears nothing; the lock keeps the logs as
 * they were reported until each reported page is write-protected again
 * and no vCPU can write it without a new fault.
 */
static int revirt_get_dirty_log(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_dirty_log a;
	struct revirt_map *first, *m;
	u64 end, pages;
	unsigned long *out;
	bool any = false;
	int r;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.reserved)
		return -EINVAL;
	r = revirt_range_check(a.gpa, a.size);
	if (r)
		return r;
	if (!a.bitmap)
		return -EFAULT;
	end = a.gpa + a.size;
	pages = a.size >> PAGE_SHIFT;
	out = kvcalloc(BITS_TO_LONGS(pages), sizeof(*out), GFP_KERNEL_ACCOUNT);
	if (!out)
		return -ENOMEM;

	mutex_lock(&vm->lock);
	r = revirt_log_cover(vm, a.gpa, end, false, &first);
	if (r)
		goto out;
	m = first;
	for_each_cover_map(m, vm, end) {
		if (!m->dirty) {
			r = -ENOENT;
			goto out;
		}
	}
	/* Pages [from, to) of each map are in the range. */
	m = first;
	for_each_cover_map(m, vm, end) {
		u64 from = (max(a.gpa, m->gpa) - m->gpa) >> PAGE_SHIFT;
		u64 to = (min(end, m->gpa + m->size) - m->gpa) >> PAGE_SHIFT;
		u64 p;

		for (p = find_next_bit(m->dirty, to, from); p < to;
		     p = find_next_bit(m->dirty, to, p + 1))
			__set_bit(revirt_log_bit(m, a.gpa, p), out);
	}
	/* The little-endian bitmap of the ABI is x86's unsigned long one. */
	if (copy_to_user(u64_to_user_ptr(a.bitmap), out,
			 DIV_ROUND_UP(pages, 8))) {
		r = -EFAULT;
		goto out;
	}
	m = first;
	for_each_cover_map(m, vm, end) {
		u64 from = (max(a.gpa, m->gpa) - m->gpa) >> PAGE_SHIFT;
		u64 to = (min(end, m->gpa + m->size) - m->gpa) >> PAGE_SHIFT;
		u64 p, q;

		for (p = find_next_bit(m->dirty, to, from); p < to;
		     p = find_next_bit(m->dirty, to, q)) {
			q = find_next_zero_bit(m->dirty, to, p);
			bitmap_clear(m->dirty, p, q - p);
			revirt_arch->npt_protect(vm, m->gpa + (p << PAGE_SHIFT),
						 (q - p) << PAGE_SHIFT);
			any = true;
		}
	}
	if (any)
		revirt_arch->npt_flush(vm);
out:
	mutex_unlock(&vm->lock);
	kvfree(out);
	return r;
}

static long revirt_vm_ioctl(struct file *f, unsigned int cmd,
			    unsigned long arg)
{
	struct revirt_vm *vm = f->private_data;
	void __user *argp = (void __user *)arg;

	/* Guest memory is the VMM's: no other process may use the VM. */
	if (current->mm != vm->mm)
		return -EIO;
	switch (cmd) {
	case REVIRT_MAP_MEMORY:
		return revirt_map_memory(vm, argp);
	case REVIRT_UNMAP_MEMORY:
		return revirt_unmap_memory(vm, argp);
	case REVIRT_CREATE_VCPU:
		return revirt_vcpu_create(vm, argp);
	case REVIRT_LOG_START:
		return revirt_log_start(vm, argp);
	case REVIRT_LOG_STOP:
		return revirt_log_stop(vm, argp);
	case REVIRT_GET_DIRTY_LOG:
		return revirt_get_dirty_log(vm, argp);
	default:
		return -ENOTTY;
	}
}

static int revirt_vm_release_file(struct inode *inode, struct file *f)
{
	revirt_vm_put(f->private_data);
	return 0;
}

const struct file_operations revirt_vm_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = revirt_vm_ioctl,
	.release = revirt_vm_release_file,
	.llseek = noop_llseek,
};

int revirt_vm_create(void)
{
	struct revirt_vm *vm;
	int r;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return -ENOMEM;
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	INIT_LIST_HEAD(&vm->maps);
	xa_init(&vm->pages);
	vm->mm = current->mm;
	mmgrab(vm->mm);
	r = revirt_arch->vm_init(vm);
	if (r) {
		mmdrop(vm->mm);
		kfree(vm);
		return r;
	}
	r = anon_inode_getfd("revirt-vm", &revirt_vm_fops, vm,
			     O_RDWR | O_CLOEXEC);
	if (r < 0)
		revirt_vm_put(vm);
	return r;
}
