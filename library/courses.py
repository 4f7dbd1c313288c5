"""Courses, their instructors and enrolled students, and the demo courses.

Who may see what is decided here on plain values (``CourseAccess``), so the web layer only asks:
curators and admins reach every course, an instructor the courses they teach, a student the
courses they are enrolled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from library.db import Database
from library.lessons import checked_text
from library.models import Course, CourseMember, LessonCourse, User
from library.users import Role

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
MAX_TITLE = 200
MAX_SPECIALTY = 100
MAX_DESCRIPTION = 5000


class CourseError(ValueError):
    """A course operation was refused; the message says why."""


class CourseNotFound(CourseError):
    pass


class MemberRole(str, Enum):
    INSTRUCTOR = "instructor"
    STUDENT = "student"


@dataclass(frozen=True)
class CourseInfo:
    id: int
    slug: str
    title: str
    specialty: str
    description: str
    lessons: int = 0


@dataclass(frozen=True)
class MemberInfo:
    user_id: int
    username: str
    display_name: str
    role: MemberRole


@dataclass(frozen=True)
class CourseAccess:
    """What one user may reach: ``everything`` (curator, admin) or the listed course ids."""

    everything: bool
    teaches: frozenset[int]
    enrolled: frozenset[int]

    def may_curate(self, course_ids: frozenset[int] | set[int]) -> bool:
        """Curate a lesson in these courses: everything, or teaching one of them."""
        return self.everything or bool(self.teaches & set(course_ids))

    def may_watch(self, course_ids: frozenset[int] | set[int]) -> bool:
        return self.may_curate(course_ids) or bool(self.enrolled & set(course_ids))


def _info(course: Course, lessons: int = 0) -> CourseInfo:
    return CourseInfo(id=course.id, slug=course.slug, title=course.title,
                      specialty=course.specialty, description=course.description,
                      lessons=lessons)


def _text(name: str, value: str, limit: int, *, required: bool = True) -> str:
    return checked_text(f"course {name}", value, limit, required=required, error=CourseError)


def create_course(db: Database, *, slug: str, title: str, specialty: str,
                  description: str = "") -> CourseInfo:
    slug = slug.strip().lower()
    if not SLUG_RE.fullmatch(slug):
        raise CourseError(f"invalid course slug {slug!r}: use 2 to 64 characters from a-z, 0-9 "
                          "and '-', starting with a letter or digit")
    course = Course(slug=slug, title=_text("title", title, MAX_TITLE),
                    specialty=_text("specialty", specialty, MAX_SPECIALTY),
                    description=_text("description", description, MAX_DESCRIPTION,
                                      required=False))
    try:
        with db.session() as session:
            if session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
                raise CourseError(f"a course with the slug {slug!r} already exists")
            session.add(course)
            session.flush()
            return _info(course)
    except IntegrityError as exc:
        raise CourseError(f"a course with the slug {slug!r} already exists") from exc


def list_courses(db: Database, only: frozenset[int] | None = None) -> list[CourseInfo]:
    """Courses by title (``only``: these ids), with their lesson counts."""
    counts = (select(LessonCourse.course_id, func.count().label("n"))
              .group_by(LessonCourse.course_id).subquery())
    query = (select(Course, func.coalesce(counts.c.n, 0))
             .outerjoin(counts, counts.c.course_id == Course.id).order_by(Course.title))
    if only is not None:
        query = query.where(Course.id.in_(only))
    with db.session() as session:
        return [_info(course, int(n)) for course, n in session.execute(query)]


def get_course(db: Database, course_id: int) -> CourseInfo:
    with db.session() as session:
        course = session.get(Course, course_id)
        if course is None:
            raise CourseNotFound(f"no course with id {course_id}")
        return _info(course)


def set_member(db: Database, course_id: int, user_id: int, role: MemberRole | str) -> MemberInfo:
    """Add a user to a course or change their role there (instructor or student)."""
    try:
        member_role = MemberRole(role)
    except ValueError:
        raise CourseError(f"unknown course role {role!r}: use instructor or student") from None
    with db.session() as session:
        if session.get(Course, course_id) is None:
            raise CourseNotFound(f"no course with id {course_id}")
        user = session.get(User, user_id)
        if user is None:
            raise CourseError(f"no user with id {user_id}")
        if member_role is MemberRole.INSTRUCTOR and user.role not in (
                Role.INSTRUCTOR.value, Role.ADMIN.value):
            raise CourseError(f"{user.username} is a {user.role}: only instructors (or admins) "
                              "can teach a course")
        member = session.get(CourseMember, (course_id, user_id))
        if member is None:
            member = CourseMember(course_id=course_id, user_id=user_id, role=member_role.value)
            session.add(member)
        else:
            member.role = member_role.value
        session.flush()
        return MemberInfo(user.id, user.username, user.display_name, member_role)


def remove_member(db: Database, course_id: int, user_id: int) -> None:
    with db.session() as session:
        member = session.get(CourseMember, (course_id, user_id))
        if member is None:
            raise CourseError(f"user {user_id} is not a member of course {course_id}")
        session.delete(member)


def list_members(db: Database, course_id: int) -> list[MemberInfo]:
    query = (select(CourseMember, User).join(User, User.id == CourseMember.user_id)
             .where(CourseMember.course_id == course_id).order_by(CourseMember.role, User.username))
    with db.session() as session:
        if session.get(Course, course_id) is None:
            raise CourseNotFound(f"no course with id {course_id}")
        return [MemberInfo(u.id, u.username, u.display_name, MemberRole(m.role))
                for m, u in session.execute(query)]


def access_for(db: Database, user_id: int | None, role: Role) -> CourseAccess:
    """The courses a user reaches. A token without an account reaches none (unless curator)."""
    if role in (Role.ADMIN, Role.CURATOR):
        return CourseAccess(True, frozenset(), frozenset())
    if user_id is None:
        return CourseAccess(False, frozenset(), frozenset())
    with db.session() as session:
        rows = session.execute(select(CourseMember.course_id, CourseMember.role)
                               .where(CourseMember.user_id == user_id)).all()
    teaches = frozenset(c for c, r in rows if r == MemberRole.INSTRUCTOR.value)
    enrolled = frozenset(c for c, r in rows if r == MemberRole.STUDENT.value)
    return CourseAccess(False, teaches, enrolled)


DEMO_COURSES: tuple[tuple[str, str, str, str], ...] = (
    ("neurosurgery", "Neurosurgery", "Neurosurgery",
     "Cranial and spinal procedures from the operating room, with the imaging beside them."),
    ("ent", "ENT", "Otorhinolaryngology",
     "Endoscopic sinus surgery, septoplasty and airway procedures."),
    ("gastroenterology", "Gastroenterology", "Gastroenterology",
     "Diagnostic and therapeutic endoscopy: gastroscopy, colonoscopy, ERCP."),
)


def ensure_demo_courses(db: Database, instructor: str = "instructor",
                        student: str = "student") -> list[CourseInfo]:
    """The three demo courses, the demo instructor teaching them all and the demo student
    enrolled in the first two; idempotent (existing courses and members are kept as they are)."""
    with db.session() as session:
        users = {u.username: u for u in session.scalars(
            select(User).where(User.username.in_([instructor, student])))}
        for index, (slug, title, specialty, description) in enumerate(DEMO_COURSES):
            course = session.scalar(select(Course).where(Course.slug == slug))
            if course is None:
                course = Course(slug=slug, title=title, specialty=specialty,
                                description=description)
                session.add(course)
                session.flush()
            wanted = [(instructor, MemberRole.INSTRUCTOR)]
            if index < 2:
                wanted.append((student, MemberRole.STUDENT))
            for username, role in wanted:
                user = users.get(username)
                if user is not None and session.get(CourseMember, (course.id, user.id)) is None:
                    session.add(CourseMember(course_id=course.id, user_id=user.id,
                                             role=role.value))
    return [c for c in list_courses(db) if c.slug in {d[0] for d in DEMO_COURSES}]
