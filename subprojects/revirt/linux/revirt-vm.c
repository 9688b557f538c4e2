// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the VM handle and guest memory.
 *
 * A map only records (gpa, size, hva, prot).  A guest page enters the
 * second-level page tables on its first touch: the nested page fault finds
 * it through the VMM's own page tables (pin_user_pages_fast) and it stays
 * pinned while it is mapped.  Unmap and the VM's end unpin every page.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/anon_inodes.h>
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

static void revirt_vm_release(struct kref *ref)
{
	struct revirt_vm *vm = container_of(ref, struct revirt_vm, ref);
	struct revirt_map *m, *tmp;

	revirt_unpin_range(vm, 0, ULONG_MAX);
	xa_destroy(&vm->pages);
	revirt_arch->vm_free(vm);
	list_for_each_entry_safe(m, tmp, &vm->maps, node)
		kfree(m);
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

/*
 * Cut [gpa, end) out of the maps.  spare is the one new map a split in
 * the middle of a map needs; it is consumed (set to NULL) if used.
 */
static bool revirt_maps_cut(struct revirt_vm *vm, u64 gpa, u64 end,
			    struct revirt_map **spare)
{
	struct revirt_map *m, *tmp;
	bool found = false;

	list_for_each_entry_safe(m, tmp, &vm->maps, node) {
		u64 m_end = m->gpa + m->size;

		if (m_end <= gpa || m->gpa >= end)
			continue;
		found = true;
		if (m->gpa < gpa && m_end > end) {
			struct revirt_map *tail = *spare;

			*tail = *m;
			tail->gpa = end;
			tail->size = m_end - end;
			tail->hva = m->hva + (end - m->gpa);
			list_add(&tail->node, &m->node);
			m->size = gpa - m->gpa;
			*spare = NULL;
		} else if (m->gpa < gpa) {
			m->size = gpa - m->gpa;
		} else if (m_end > end) {
			m->hva += end - m->gpa;
			m->size = m_end - end;
			m->gpa = end;
		} else {
			list_del(&m->node);
			kfree(m);
		}
	}
	return found;
}

static int revirt_unmap_memory(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_memory_unmap a;
	struct revirt_map *spare;
	int r;

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
	if (!revirt_maps_cut(vm, a.gpa, a.gpa + a.size, &spare)) {
		r = -ENOENT;
	} else {
		/* No vCPU may use a translation of a page once it is unpinned. */
		revirt_arch->npt_clear(vm, a.gpa, a.size);
		revirt_arch->npt_flush(vm);
		revirt_unpin_range(vm, a.gpa >> PAGE_SHIFT,
				   ((a.gpa + a.size) >> PAGE_SHIFT) - 1);
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
	r = revirt_arch->npt_set(vm, gfn << PAGE_SHIFT, page_to_pfn(page),
				 m->prot);
out:
	mutex_unlock(&vm->lock);
	return r;
}

/*
 * Read or write guest memory for the guest (string I/O), through the
 * VMM's mapping.  Returns -ENOENT where there is no RAM (or a write to a
 * read-only map), -EFAULT if the VMM's memory is gone.
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
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Dirty logging is not written yet: the calls check, then refuse. */
static int revirt_log_call(void __user *argp, unsigned int cmd)
{
	struct revirt_dirty_log d;
	size_t size = _IOC_SIZE(cmd);

	if (copy_from_user(&d, argp, size))
		return -EFAULT;
	if (cmd == REVIRT_GET_DIRTY_LOG ? (d.flags || d.reserved) :
	    (((struct revirt_log_range *)&d)->flags ||
	     ((struct revirt_log_range *)&d)->reserved))
		return -EINVAL;
	return -ENOTSUP;
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
	case REVIRT_LOG_STOP:
	case REVIRT_GET_DIRTY_LOG:
		return revirt_log_call(argp, cmd);
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
